// Store-and-forward at the relay (issue 14), over real sockets: the device's link goes down
// (a TCP gate in front of the relay closes and refuses), the client keeps sending through its
// end-to-end channel, the relay keeps the frames for the device's identity (ciphertext: it
// cannot read them) and forwards them in order once the device registers again; what a
// bound refuses is told to the sender; another identity cannot take the name meanwhile; a
// relay restarted on a SQLite queue still has them.
import assert from "node:assert/strict";
import { startDevice } from "../cli/_device.ts";
import { RelayQueue, type UndeliverableEvent } from "../routing/mod.ts";
import { SqliteRelayQueueStore } from "../routing/deno.ts";
import { identities, stack, until } from "./_relay_stack.ts";

Deno.test("store-and-forward: frames for an offline device wait at the relay and arrive in order", async () => {
  const s = await stack(new RelayQueue({ maxPerName: 100 }));
  try {
    await s.send("online");
    await until(() => s.received.length === 1, "the first message");
    await s.offline();
    for (let i = 0; i < 50; i++) await s.send(`queued ${i}`);
    await until(() => s.queue.size("forward_to_sensor") === 50, "50 frames queued");
    assert.equal(s.received.length, 1, "nothing reached the offline device");
    const held = s.relay.relays.registrations().find((r) => r.name === "sensor");
    assert.deepEqual([held?.online, held?.queued], [false, 50], "what status reports");

    // Another identity cannot take the name (and so the frames) while it is held.
    const [other] = await identities(1);
    const intruder = await startDevice({
      identity: other!,
      relay: { transport: "tcp", hostPort: s.relay.tcp },
      name: "sensor",
      timeout: 5000,
    }).then((d) => d.close().then(() => "registered"), (e) => e.code);
    assert.equal(intruder, "relay-refused");
    assert.equal(s.queue.size("forward_to_sensor"), 50);

    s.gate.up(); // back: the device registers again and the relay forwards what waited
    await until(() => s.received.length === 51, "every queued frame delivered");
    assert.deepEqual(s.received.slice(1), Array.from({ length: 50 }, (_, i) => `queued ${i}`));
    assert.equal(s.queue.count, 0);
    assert.equal(s.device.listener.channels.size, 1, "the same channel, no new handshake");
    await s.send("after");
    await until(() => s.received.at(-1) === "after", "live again");
  } finally {
    await s.close();
  }
});

Deno.test("store-and-forward: a full queue is refused and the sender is told (queue-full)", async () => {
  const s = await stack(new RelayQueue({ maxPerName: 10 }));
  const notices: UndeliverableEvent[] = [];
  try {
    s.client.node.onUndeliverable(s.client.link.address, (e) => notices.push(e));
    await s.offline();
    for (let i = 0; i < 15; i++) await s.send(`m${i}`);
    const refusals = () => notices.filter((n) => n.code === "queue-full");
    await until(() => refusals().length === 5, "five refusals told to the client");
    for (const n of notices) assert.equal(n.address.toString(), "forward_to_sensor");
    // The frames it kept were announced as held (once a second at most), the rest refused.
    assert.deepEqual(new Set(notices.map((n) => n.code)), new Set(["held", "queue-full"]));
    assert.equal(s.queue.size("forward_to_sensor"), 10);
    s.gate.up();
    await until(() => s.received.length === 10, "the ten that were kept");
    assert.deepEqual(s.received, Array.from({ length: 10 }, (_, i) => `m${i}`));
  } finally {
    await s.close();
  }
});

Deno.test("store-and-forward in SQLite: a relay restarted on the same ports and file still holds the frames", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/queue.db`;
  const s = await stack(new RelayQueue({ store: new SqliteRelayQueueStore(file) }));
  try {
    await s.offline();
    for (let i = 0; i < 20; i++) await s.send(`kept ${i}`);
    await until(() => s.queue.size("forward_to_sensor") === 20, "20 frames queued");
    // What the relay keeps on disk is ciphertext: no plaintext byte string of the messages.
    for (const name of ["queue.db", "queue.db-wal"]) {
      const bytes = await Deno.readFile(`${dir}/${name}`).catch(() => new Uint8Array());
      assert(!new TextDecoder("latin1").decode(bytes).includes("kept "), `${name} holds plaintext`);
    }
    // The relay goes away and comes back on the same ports with the same queue file.
    await s.restartRelay(() => new RelayQueue({ store: new SqliteRelayQueueStore(file) }));
    assert.deepEqual(s.relay.relays.relays(), ["forward_to_sensor"], "held again at start");
    s.gate.up();
    await until(() => s.received.length === 20, "every kept frame delivered");
    assert.deepEqual(s.received, Array.from({ length: 20 }, (_, i) => `kept ${i}`));
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
