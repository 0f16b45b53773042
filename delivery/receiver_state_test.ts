// The receiver's record: the memory store, the checks on what is read back (hostile or
// corrupt contents are typed errors), and the bounds a receiver applies when it loads them.
import assert from "node:assert/strict";
import { DeliveryError } from "../errors.ts";
import {
  checkDeliveryRecord,
  type DeliveryReceiverStateStore,
  type DeliverySessionRecord,
  loadDeliveryRecords,
  MemoryDeliveryReceiverState,
} from "./receiver_state.ts";

const rec = (n: number, over: Partial<DeliverySessionRecord> = {}): DeliverySessionRecord => ({
  peer: "I" + "ab".repeat(32),
  session: n.toString(16).padStart(32, "0"),
  level: "exactly-once",
  delivered: n,
  lastActive: 1_000_000 + n,
  ...over,
});

const badState = (e: unknown) => e instanceof DeliveryError && e.code === "bad-state";

Deno.test("checkDeliveryRecord refuses every malformed field with bad-state", () => {
  assert.deepEqual(checkDeliveryRecord(rec(3)), rec(3));
  const bad: unknown[] = [
    null,
    "text",
    { ...rec(1), peer: 7 },
    { ...rec(1), peer: "x".repeat(257) },
    { ...rec(1), session: "AB".repeat(16) },
    { ...rec(1), session: "ab".repeat(15) },
    { ...rec(1), session: "ab".repeat(16) + "\n" },
    { ...rec(1), level: "none" },
    { ...rec(1), delivered: -1 },
    { ...rec(1), delivered: 1.5 },
    { ...rec(1), delivered: 2 ** 53 },
    { ...rec(1), delivered: 3n },
    { ...rec(1), lastActive: Number.NaN },
    { ...rec(1), lastActive: "1" },
  ];
  for (const r of bad) assert.throws(() => checkDeliveryRecord(r), badState, String(r));
});

Deno.test("memory store: save replaces, delete forgets, load returns copies", () => {
  const state = new MemoryDeliveryReceiverState();
  state.save(rec(1));
  state.save(rec(1, { delivered: 9 }));
  state.save(rec(2));
  assert.equal(state.size, 2);
  const loaded = state.load();
  assert.equal(loaded.find((r) => r.delivered === 9)?.session, rec(1).session);
  state.delete(rec(2).peer, rec(2).session);
  assert.deepEqual(state.load(), [rec(1, { delivered: 9 })]);
  assert.throws(() => state.save({ ...rec(3), delivered: -2 }), badState);
  assert.equal(state.size, 1, "a refused record changes nothing");
});

Deno.test("loading is bounded: idle records expire, the least recent beyond maxSessions go", () => {
  const state = new MemoryDeliveryReceiverState();
  for (let i = 0; i < 10; i++) state.save(rec(i));
  const now = 1_000_000 + 9 + 100;
  // Idle past 104 ms: records 0..4 (lastActive ≤ now − 105).
  const kept = loadDeliveryRecords(state, { maxSessions: 3, idle: 104, now });
  assert.deepEqual(kept.map((r) => r.delivered), [9, 8, 7], "most recent first, 3 at most");
  assert.equal(state.size, 3, "the others were deleted from the store");
  const none = loadDeliveryRecords(state, { maxSessions: 3, idle: 0, now });
  assert.equal(none.length, 0);
  assert.equal(state.size, 0);
});

Deno.test("loading refuses a store that lies: a malformed record, one session twice", () => {
  const lying = (records: unknown[]): DeliveryReceiverStateStore => ({
    load: () => records as DeliverySessionRecord[],
    save: () => {},
    delete: () => {},
  });
  const limits = { maxSessions: 64, idle: 1e12, now: 2_000_000 };
  assert.throws(() => loadDeliveryRecords(lying([rec(1), rec(1)]), limits), badState);
  assert.throws(() => loadDeliveryRecords(lying([{ ...rec(1), level: 3 }]), limits), badState);
  assert.equal(loadDeliveryRecords(lying([rec(1), rec(2)]), limits).length, 2);
});
