// Issue 14: a device process killed with SIGKILL mid-stream and started again resumes its
// channel (no handshake) from its FileKeyStore; the client goes on with the same channel, and
// a recording hop between them sees no nonce used twice in either direction.
import assert from "node:assert/strict";
import { createSecureChannel } from "../channel/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, Route } from "../routing/mod.ts";
import { listenTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { ResumeDevice } from "./_resume_device.ts";

const CHILD = new URL("./channel_resume_child.ts", import.meta.url).pathname;
const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

const nonceOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);

Deno.test("a device killed with SIGKILL resumes its channel: no handshake, no nonce twice, delivery goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sealroute_resume_" });
  const node = new Node();
  const tcp = listenTcp(node, { port: 0, hostname: "127.0.0.1" });
  const devices: ResumeDevice[] = [];
  try {
    // The relay's part: a recording hop, and the way to the device's current connection.
    const toDevice: bigint[] = [];
    const toClient: bigint[] = [];
    let recording = false;
    node.startWorker("rec", async (ctx) => {
      const m = ctx.message;
      const onward = m.onwardRoute.popFront();
      if (recording) {
        (onward.next?.toString() === "fwd" ? toDevice : toClient).push(nonceOf(m.payload));
      }
      await node.deliver(
        m.with({ onwardRoute: onward, returnRoute: m.returnRoute.prepend("rec") }),
      );
    }, { consumes: [tcp.flow] });
    node.startWorker("fwd", async (ctx) => {
      const link = [...tcp.connections].at(-1);
      if (!link) return; // the device is down: lost
      const m = ctx.message;
      await node.deliver(m.with({ onwardRoute: Route.from(link.route, m.onwardRoute.popFront()) }));
    });

    const first = new ResumeDevice(CHILD, tcp.port, dir);
    devices.push(first);
    assert.deepEqual(await first.until("resumed"), { resumed: 0 });
    const channel = await createSecureChannel(node, ["rec", "fwd", "api"], {
      identity: await createIdentity(new Vault()),
      keepHandshakeRoute: true,
    });
    await first.until("handshake");
    recording = true;
    let delivered = 0;
    const ask = async (i: number) => {
      // A request lost with the device is asked again (a new frame, a new nonce).
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          const reply = await channel.request("echo", text(`m${i}`), { timeout: 1000 });
          assert.equal(untext(reply.payload), `m${i}`);
          delivered++;
          return;
        } catch (error) {
          if (channel.isClosed) throw error;
        }
      }
      throw new Error(`m${i} never got through`);
    };
    for (let i = 0; i < 60; i++) await ask(i);
    // Killed mid-stream: requests in flight while it dies.
    const inFlight = Promise.all([60, 61, 62, 63].map(ask));
    await first.kill();
    const second = new ResumeDevice(CHILD, tcp.port, dir);
    devices.push(second);
    assert.deepEqual(await second.until("resumed"), { resumed: 1 });
    await inFlight;
    for (let i = 64; i < 120; i++) await ask(i);

    assert.equal(delivered, 120);
    assert.ok(!channel.isClosed, "the same channel all along");
    assert.equal(
      [...first.events, ...second.events].filter((e) => "handshake" in e).length,
      1,
      "one handshake in both lives of the device",
    );
    assert.equal(new Set(toDevice).size, toDevice.length, "a nonce was used twice to the device");
    assert.equal(new Set(toClient).size, toClient.length, "a nonce was used twice by the device");
    assert.ok(toClient.length >= 120);
    // The state is kept as the key store keeps keys: files of mode 0600.
    const files = [];
    for await (const entry of Deno.readDir(`${dir}/channels`)) files.push(entry.name);
    assert.equal(files.length, 2, "the channel's state and the index");
    for (const name of files) {
      assert.equal((await Deno.stat(`${dir}/channels/${name}`)).mode! & 0o777, 0o600);
    }
    // Closing the channel deletes its state on the device.
    await channel.close();
    for (
      let i = 0;
      await Deno.stat(`${dir}/channels/${files.find((f) => !f.includes("index"))}`).then(
        () => true,
        () => false,
      );
      i++
    ) {
      assert.ok(i < 1000, "the device kept the state of a closed channel");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    for (const device of devices) await device.kill();
    await tcp.close();
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});
