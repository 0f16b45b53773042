import assert from "node:assert/strict";
import { RelayQueue } from "../routing/mod.ts";
import { ensureNatsServer, startNatsServer } from "../tests/nats/cluster.ts";
import { decodeRecord, encodeRecord, JetStreamRelayQueueStore } from "./jetstream_queue_store.ts";

const available = await ensureNatsServer();
const encoder = new TextEncoder();

Deno.test("queue records: round trip, and what does not parse is refused", () => {
  const record = encodeRecord("Iabc", 1234.5, encoder.encode("frame"));
  const back = decodeRecord(record)!;
  assert.equal(back.identity, "Iabc");
  assert.equal(back.at, 1234.5);
  assert.deepEqual(back.bytes, encoder.encode("frame"));
  assert.equal(decodeRecord(record.subarray(0, 9)), undefined, "truncated head");
  assert.equal(
    decodeRecord(Uint8Array.of(0xff, 0xff, ...new Uint8Array(20))),
    undefined,
    "long id",
  );
  const badUtf8 = Uint8Array.of(0, 1, 0xc3, ...new Uint8Array(8));
  assert.equal(decodeRecord(badUtf8), undefined, "identity not UTF-8");
  const nan = encodeRecord("I", Number.NaN, new Uint8Array(0));
  assert.equal(decodeRecord(nan), undefined, "time not a number");
  assert.throws(() => encodeRecord("I".repeat(2000), 0, new Uint8Array(0)), RangeError);
});

Deno.test({
  name: "JetStream queue: frames outlive the relay's memory, another store loads them in order",
  ignore: !available,
  async fn() {
    const s = await startNatsServer();
    try {
      const js = s.js;
      const jsm = await js.jetstreamManager();
      const first = await JetStreamRelayQueueStore.open(js, jsm, { maxPerName: 5 });
      const queue = new RelayQueue({ store: first, maxPerName: 5 });
      for (let i = 0; i < 4; i++) {
        assert.equal(queue.put("forward_to_d", "Idev", Uint8Array.of(i)), undefined);
      }
      // The first frame is taken here (and deleted from the stream); the rest wait.
      assert.deepEqual(queue.take("forward_to_d", 1).map((f) => f.bytes[0]), [0]);
      await first.flush();
      // Another relay (a new store: nothing in memory) loads the three that wait.
      const second = await JetStreamRelayQueueStore.open(js, jsm, { maxPerName: 5 });
      assert.equal(await second.load("forward_to_d", "Iother"), 0, "held for another identity");
      assert.equal(await second.load("forward_to_d", "Idev"), 3);
      assert.equal(await second.load("forward_to_d", "Idev"), 0, "a reload adds nothing twice");
      const other = new RelayQueue({ store: second, maxPerName: 5 });
      other.resync("forward_to_d");
      assert.equal(other.size("forward_to_d"), 3);
      assert.deepEqual(other.take("forward_to_d", 10).map((f) => f.bytes[0]), [1, 2, 3]);
      await second.flush();
      const third = await JetStreamRelayQueueStore.open(js, jsm, { maxPerName: 5 });
      assert.equal(await third.load("forward_to_d", "Idev"), 0, "taken frames left the stream");
      // evict forgets here without touching the stream.
      queue.put("forward_to_e", "Idev", Uint8Array.of(9));
      await first.flush();
      queue.release("forward_to_e");
      assert.equal(queue.size("forward_to_e"), 0);
      assert.equal(await third.load("forward_to_e", "Idev"), 1);
    } finally {
      await s.stop();
    }
  },
});

Deno.test({
  name:
    "JetStream queue: a relay that is not the holder offers frames; the stream's bounds refuse the rest",
  ignore: !available,
  async fn() {
    const s = await startNatsServer();
    try {
      const js = s.js;
      const jsm = await js.jetstreamManager();
      const store = await JetStreamRelayQueueStore.open(js, jsm, {
        stream: "BOUNDS",
        maxPerName: 3,
        maxFrameBytes: 64,
      });
      for (let i = 0; i < 3; i++) {
        assert.equal(await store.offer("forward_to_d", "Idev", Uint8Array.of(i)), undefined);
      }
      assert.equal(await store.offer("forward_to_d", "Idev", Uint8Array.of(3)), "queue-full");
      assert.equal(
        await store.offer("forward_to_d", "Idev", new Uint8Array(2000)),
        "frame-too-large",
      );
      // Other names are not affected by one name's bound.
      assert.equal(await store.offer("forward_to_e", "Idev", Uint8Array.of(1)), undefined);
      assert.equal(await store.load("forward_to_d", "Idev"), 3);
      assert.deepEqual(store.shift("forward_to_d", 10).map((f) => f.bytes[0]), [0, 1, 2]);
    } finally {
      await s.stop();
    }
  },
});
