import assert from "node:assert/strict";
import { MemoryRelayQueueStore, RelayQueue, type RelayQueueStore } from "./relay_queue.ts";
import { SqliteRelayQueueStore } from "./sqlite_relay_queue.ts";

const b = (...xs: number[]) => new Uint8Array(xs);

async function eachStore(test: (store: () => RelayQueueStore) => void | Promise<void>) {
  await test(() => new MemoryRelayQueueStore());
  const dir = await Deno.makeTempDir();
  try {
    let n = 0;
    await test(() => new SqliteRelayQueueStore(`${dir}/q${n++}.db`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("relay queue: frames come back in order, per name, and only once", async () => {
  await eachStore((store) => {
    const q = new RelayQueue({ store: store() });
    for (let i = 0; i < 5; i++) assert.equal(q.put("a", "I1", b(i)), undefined);
    assert.equal(q.put("b", "I2", b(9)), undefined);
    assert.equal(q.count, 6);
    assert.deepEqual(q.take("a", 3).map((f) => f.bytes[0]), [0, 1, 2]);
    assert.deepEqual(q.take("a", 10).map((f) => f.bytes[0]), [3, 4]);
    assert.deepEqual(q.take("a", 10), []);
    assert.equal(q.holder("b"), "I2");
    assert.equal(q.count, 1);
    q.close();
  });
});

Deno.test("relay queue bounds: per name count and bytes, total count and bytes, frame size", async () => {
  await eachStore((store) => {
    const q = new RelayQueue({
      store: store(),
      maxPerName: 2,
      maxBytesPerName: 10,
      maxTotal: 3,
      maxTotalBytes: 100,
    });
    assert.equal(q.put("a", "I", new Uint8Array(11)), "frame-too-large");
    assert.equal(q.put("a", "I", new Uint8Array(6)), undefined);
    assert.equal(q.put("a", "I", new Uint8Array(6)), "queue-full", "bytes per name");
    assert.equal(q.put("a", "I", new Uint8Array(1)), undefined);
    assert.equal(q.put("a", "I", new Uint8Array(1)), "queue-full", "count per name");
    assert.equal(q.put("b", "I", new Uint8Array(1)), undefined);
    assert.equal(q.put("c", "I", new Uint8Array(1)), "queue-limit", "total count");
    assert.equal(q.count, 3);
    assert.equal(q.bytes, 8);
    q.close();
  });
});

Deno.test("relay queue: frames past their age expire and are counted; another identity starts afresh", async () => {
  await eachStore((store) => {
    let now = 1000;
    const q = new RelayQueue({ store: store(), maxAge: 100, now: () => now });
    q.put("a", "I1", b(1));
    now = 1050;
    q.put("a", "I1", b(2));
    now = 1120;
    assert.equal(q.size("a"), 1);
    assert.equal(q.expired, 1);
    assert.deepEqual(q.take("a", 5).map((f) => f.bytes[0]), [2]);
    q.put("x", "I1", b(1));
    q.put("x", "I2", b(2));
    assert.equal(q.holder("x"), "I2");
    assert.deepEqual(q.take("x", 5).map((f) => f.bytes[0]), [2]);
    assert.equal(q.count, 0);
    assert.equal(q.bytes, 0);
    q.close();
  });
});

Deno.test("relay queue in SQLite: what was queued survives closing and reopening the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = new RelayQueue({ store: new SqliteRelayQueueStore(`${dir}/q.db`) });
    for (let i = 0; i < 3; i++) first.put("forward_to_d", "Idev", b(i, i));
    first.take("forward_to_d", 1);
    first.close();
    const again = new RelayQueue({ store: new SqliteRelayQueueStore(`${dir}/q.db`) });
    assert.deepEqual(again.names(), [{ name: "forward_to_d", identity: "Idev", count: 2 }]);
    assert.equal(again.bytes, 4);
    assert.deepEqual(again.take("forward_to_d", 9).map((f) => [...f.bytes]), [[1, 1], [2, 2]]);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relay queue: a bound that is not a positive integer is refused", () => {
  assert.throws(() => new RelayQueue({ maxPerName: 0 }), RangeError);
  assert.throws(() => new RelayQueue({ maxAge: 1.5 }), RangeError);
});
