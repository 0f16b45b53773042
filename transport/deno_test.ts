import assert from "node:assert/strict";
import { TransportError } from "../errors.ts";
import { createRelay, Node, RoutedMessage, startEcho, startRelayService } from "../routing/mod.ts";
import type { Connection } from "./connection.ts";
import { connectTcp, listenTcp, useTcpTransport } from "./deno.ts";
import { until } from "./_helpers_test.ts";

Deno.test("two nodes over TCP: `1#host:port` routes connect and reuse the connection", async () => {
  await using server = new Node();
  await using client = new Node();
  await using listener = listenTcp(server);
  startEcho(server, { consumes: [listener.flow] });
  useTcpTransport(client);
  const route = `1#127.0.0.1:${listener.port} => echo`;
  const r1 = await client.request(route, new Uint8Array([1]), { timeout: 2000 });
  const r2 = await client.request(route, new Uint8Array([2]), { timeout: 2000 });
  assert.deepEqual([r1.payload[0], r2.payload[0]], [1, 2]);
  assert.ok(
    r1.returnRoute.next!.equals(r2.returnRoute.next!),
    "same sender worker: connection reused",
  );
  assert.equal(listener.connections.size, 1);
});

Deno.test("three nodes over TCP: A -> B -> C by `1#` addresses, reply along the return route", async () => {
  await using a = new Node();
  await using b = new Node();
  await using c = new Node();
  useTcpTransport(a);
  // B dials C on A's behalf only because it is told it may.
  await using lb = listenTcp(b, { allowRemoteDial: true });
  await using lc = listenTcp(c);
  startEcho(c, { consumes: [lc.flow] });
  const route = `1#127.0.0.1:${lb.port} => 1#127.0.0.1:${lc.port} => echo`;
  const reply = await a.request(route, new TextEncoder().encode("hop"), { timeout: 3000 });
  assert.equal(new TextDecoder().decode(reply.payload), "hop");
  assert.equal(reply.returnRoute.length, 3);
});

Deno.test("10,000 messages over TCP arrive in order", async () => {
  await using server = new Node();
  await using client = new Node();
  const seen: number[] = [];
  await using listener = listenTcp(server);
  server.startWorker(
    "sink",
    ({ message }) => void seen.push(new DataView(message.payload.buffer).getUint32(0)),
    { consumes: [listener.flow] },
  );
  await using conn = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const route = conn.route.append("sink");
  for (let i = 0; i < 10_000; i++) {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, i);
    await client.deliver(new RoutedMessage({ onwardRoute: route, payload }));
  }
  await until(() => seen.length === 10_000);
  assert.ok(seen.every((v, i) => v === i));
});

Deno.test("an 8 MiB message over TCP", async () => {
  await using server = new Node();
  await using client = new Node();
  await using listener = listenTcp(server);
  startEcho(server, { consumes: [listener.flow] });
  await using conn = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const payload = new Uint8Array(8 * 1024 * 1024).fill(7);
  payload[0] = 1;
  const reply = await client.request(conn.route.append("echo"), payload, { timeout: 20_000 });
  assert.equal(reply.payload.length, payload.length);
  assert.equal(reply.payload[0], 1);
  assert.equal(reply.payload[payload.length - 1], 7);
});

Deno.test("random bytes to a listening socket close that connection with a typed error; others keep working", async () => {
  await using server = new Node();
  await using client = new Node();
  const accepted: Connection[] = [];
  await using listener = listenTcp(server, { onConnection: (c) => accepted.push(c) });
  startEcho(server, { consumes: [listener.flow] });
  await using good = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
  const garbage = crypto.getRandomValues(new Uint8Array(4096));
  garbage[0] = 1; // right version byte, then nonsense frames
  garbage[1] = 0xff; // ... whose length is far over 16 MiB
  await raw.write(garbage).catch(() => 0);
  await until(() => accepted.length === 2);
  const reason = await accepted[1]!.closed;
  assert.ok(reason instanceof TransportError);
  assert.equal(reason.code, "frame-too-large");
  // the server closed its end: our read sees EOF (or a reset)
  const buf = new Uint8Array(16);
  let n: number | null = 0;
  while (n !== null) n = await raw.read(buf).catch(() => null);
  raw.close();
  const reply = await client.request(good.route.append("echo"), new Uint8Array([8]), {
    timeout: 2000,
  });
  assert.equal(reply.payload[0], 8);
});

Deno.test("a wrong version byte over TCP closes with bad-protocol-version", async () => {
  await using server = new Node();
  const accepted: Connection[] = [];
  await using listener = listenTcp(server, { onConnection: (c) => accepted.push(c) });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
  await raw.write(new Uint8Array([0x47, 0x45, 0x54, 0x20]));
  await until(() => accepted.length === 1);
  assert.equal(((await accepted[0]!.closed) as TransportError).code, "bad-protocol-version");
  raw.close();
});

Deno.test("connect failures are typed", async () => {
  await using client = new Node();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await assert.rejects(
    connectTcp(client, `127.0.0.1:${port}`),
    (e) => e instanceof TransportError && e.code === "connect-failed",
  );
  await assert.rejects(
    client.request(`1#127.0.0.1:${port} => echo`, new Uint8Array(), { timeout: 1000 }),
    (e) => e instanceof TransportError && e.code === "connect-failed",
  );
});

Deno.test("relay over TCP: device registers, client reaches it, relay removed when the device disconnects", async () => {
  await using hub = new Node();
  await using device = new Node();
  await using client = new Node();
  await using listener = listenTcp(hub);
  await using service = startRelayService(hub, { consumes: [listener.flow] });
  const toHub = await connectTcp(device, `127.0.0.1:${listener.port}`);
  startEcho(device, { consumes: [toHub.flow] });
  await using relay = await createRelay(device, toHub.route, "device", { timeout: 2000 });
  assert.equal(relay.address.toString(), "forward_to_device");
  useTcpTransport(client);
  const reply = await client.request(
    `1#127.0.0.1:${listener.port} => forward_to_device => echo`,
    new Uint8Array([6]),
    { timeout: 2000 },
  );
  assert.equal(reply.payload[0], 6);
  await toHub.close();
  await until(() => service.relays().length === 0);
  await assert.rejects(
    client.request(
      `1#127.0.0.1:${listener.port} => forward_to_device => echo`,
      new Uint8Array([6]),
      { timeout: 100 },
    ),
    (e) => (e as { code: string }).code === "timeout",
  );
});
