import assert from "node:assert/strict";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { createIdentity, trustIdentifiers } from "../identity/mod.ts";
import { RouteError } from "../errors.ts";
import { createRelay, Node, startEcho } from "../routing/mod.ts";
import { connectWebSocket } from "../transport/mod.ts";
import { Vault } from "../vault/mod.ts";
import { createEdgeRelay } from "../examples/edge_relay.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("edge relay: a device registers over WebSocket, a client reaches its echo and a secure channel through it", async () => {
  const relay = createEdgeRelay();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, relay.fetch);
  const url = `ws://127.0.0.1:${server.addr.port}`;
  const device = new Node();
  const client = new Node();
  try {
    const deviceIdentity = await createIdentity(new Vault());
    const deviceLink = await connectWebSocket(device, url);
    // Echo answers in clear over the link and end to end through the device's channels.
    const listener = await createSecureChannelListener(device, "api", {
      identity: deviceIdentity,
      consumes: [deviceLink.flow],
    });
    startEcho(device, { consumes: [deviceLink.flow, listener.flow] });
    const registered = await createRelay(device, deviceLink.route, "sensor", { timeout: 5000 });
    assert.equal(registered.address.toString(), "forward_to_sensor");
    // The health check names no device: registered names are not listed to anyone.
    const status = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const index = await status.text();
    assert.equal(status.status, 200);
    assert.deepEqual(JSON.parse(index), { status: "ok" });
    assert(!index.includes("sensor"), "the index page does not disclose a registered name");
    assert.deepEqual(relay.service.relays(), ["forward_to_sensor"]);

    const link = await connectWebSocket(client, url);
    const throughRelay = link.route.append("forward_to_sensor");
    const reply = await client.request(throughRelay.append("echo"), encoder.encode("ping"), {
      timeout: 5000,
    });
    assert.equal(decoder.decode(reply.payload), "ping");

    const channel = await createSecureChannel(client, throughRelay.append("api"), {
      identity: await createIdentity(new Vault()),
      trustPolicy: trustIdentifiers(deviceIdentity.identifier),
      timeout: 5000,
    });
    const secret = await channel.request("echo", encoder.encode("end to end"), { timeout: 5000 });
    assert.equal(decoder.decode(secret.payload), "end to end");
    await channel.close();

    // Names are first come, first served: another connection cannot take "sensor".
    await assert.rejects(
      createRelay(client, link.route, "sensor", { timeout: 5000 }),
      (e) => e instanceof RouteError && e.code === "relay-refused",
    );

    // The relay goes with its device's connection.
    await deviceLink.close();
    for (let i = 0; i < 100 && relay.service.relays().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(relay.service.relays(), []);
  } finally {
    await client.close();
    await device.close();
    await relay.close();
    await server.shutdown();
  }
});

Deno.test("edge relay: the module is a `deno serve` entry (default export) that relays", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--allow-net",
      `--config=${new URL("../deno.json", import.meta.url).pathname}`,
      "--host=127.0.0.1",
      "--port=0",
      new URL("../examples/edge_relay.ts", import.meta.url).pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const device = new Node();
  const client = new Node();
  try {
    // `deno serve` prints "deno serve: Listening on http://127.0.0.1:<port>/".
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let port: string | undefined;
    while (!port) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`deno serve exited before listening: ${text}`);
      text += value;
      port = text.match(/Listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
    }
    void lines.cancel();
    const deviceLink = await connectWebSocket(device, `ws://127.0.0.1:${port}`);
    startEcho(device, { consumes: [deviceLink.flow] });
    await createRelay(device, deviceLink.route, "edge", { timeout: 5000 });
    const link = await connectWebSocket(client, `ws://127.0.0.1:${port}`);
    const reply = await client.request(
      link.route.append("forward_to_edge").append("echo"),
      encoder.encode("via deno serve"),
      { timeout: 5000 },
    );
    assert.equal(decoder.decode(reply.payload), "via deno serve");
  } finally {
    await client.close();
    await device.close();
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel();
  }
});
