// Issue 14: a device process with a reliable receiver, killed with SIGKILL mid-stream at
// seeded random points (several times) and started again: it resumes the client's channel
// (no handshake), no nonce is used twice (a recording hop checks the wire), and every one of
// a few thousand messages is delivered exactly once and in order across all its lives. The
// device's application writes what it delivers to the receiver's own SQLite database in the
// same transaction as the receiver's record; the test reads it after the last run.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createSecureChannel } from "../channel/mod.ts";
import { reliable } from "../delivery/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, Route } from "../routing/mod.ts";
import { listenTcp } from "../transport/deno.ts";
import { seededRandom } from "../transport/fault_duplex.ts";
import { Vault } from "../vault/mod.ts";
import { ResumeDevice } from "./_resume_device.ts";

const CHILD = new URL("./delivery_resume_child.ts", import.meta.url).pathname;
const MESSAGES = 3000;
const KILLS = 3;

const nonceOf = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);

Deno.test("a device killed with SIGKILL mid-stream, again and again, delivers each message once and in order", async () => {
  const seed = Number(Deno.env.get("DELIVERY_RESUME_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  const rnd = seededRandom(seed);
  // Kill points: a delivered count in each of KILLS equal slices of the stream.
  const killAt = Array.from(
    { length: KILLS },
    (_, k) => Math.floor(((k + 0.2 + 0.6 * rnd()) * MESSAGES) / (KILLS + 1)),
  );
  const dir = await Deno.makeTempDir({ prefix: "sealroute_delivery_resume_" });
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
      await node.deliver(m.with({ onwardRoute: Route.from(link.route, m.onwardRoute.popFront()) }))
        .catch(() => {}); // a connection that just died: lost, sent again
    });

    let device = new ResumeDevice(CHILD, tcp.port, dir);
    devices.push(device);
    assert.deepEqual(await device.until("resumed"), { resumed: 0, restored: 0 });
    const channel = await createSecureChannel(node, ["rec", "fwd", "api"], {
      identity: await createIdentity(new Vault()),
      keepHandshakeRoute: true,
    });
    await device.until("handshake");
    recording = true;
    const sender = reliable(node, channel, { to: "inbox", initialRto: 100, maxRto: 1000 });
    const payload = (seq: number) => {
      const bytes = new Uint8Array(32);
      new DataView(bytes.buffer).setUint32(0, seq);
      return bytes;
    };
    // Every message in order; `send` waits for room in the outbox (1024 at most).
    const sends: Promise<void>[] = [];
    const producing = (async () => {
      for (let seq = 0; seq < MESSAGES; seq++) {
        const p = sender.send(payload(seq));
        p.catch(() => {});
        sends.push(p);
        if (sender.stats.queued >= 512) await p.catch(() => {});
      }
    })();
    for (const at of killAt) {
      for (let i = 0; sender.stats.delivered < at; i++) {
        assert.ok(i < 12_000, `stuck at ${sender.stats.delivered} before the kill at ${at}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await device.kill();
      device = new ResumeDevice(CHILD, tcp.port, dir);
      devices.push(device);
      assert.deepEqual(await device.until("resumed"), { resumed: 1, restored: 1 });
      sender.kick();
    }
    await producing;
    await Promise.all(sends);
    assert.equal(sender.stats.delivered, MESSAGES);
    assert.ok(!channel.isClosed, "the same channel all along");
    await sender.close();

    const all = devices.flatMap((d) => d.events);
    assert.equal(all.filter((e) => "handshake" in e).length, 1, "one handshake in all lives");
    assert.equal(new Set(toDevice).size, toDevice.length, "a nonce was used twice to the device");
    assert.equal(new Set(toClient).size, toClient.length, "a nonce was used twice by the device");
    await device.kill(); // the last life ends too: its database is read below
    const db = new DatabaseSync(`${dir}/delivery.db`, { readOnly: true });
    try {
      const got = db.prepare("SELECT seq FROM got ORDER BY rowid").all().map((r) => r.seq);
      assert.equal(got.length, MESSAGES, "each message delivered once across the lives");
      for (let i = 0; i < MESSAGES; i++) {
        if (got[i] !== i) assert.fail(`delivery ${i} was message ${got[i]}`);
      }
    } finally {
      db.close();
    }
  } catch (error) {
    throw new Error(`failed with DELIVERY_RESUME_SEED=${seed} (kills at ${killAt})`, {
      cause: error,
    });
  } finally {
    for (const d of devices) await d.kill();
    await tcp.close();
    await node.close();
    await Deno.remove(dir, { recursive: true });
  }
});
