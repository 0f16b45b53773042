// The SQLite store of the receiver's record (delivery/deno.ts): durable across closing and
// opening, atomic with an application's effect, and refusing corrupt or hostile contents.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DeliveryError } from "../errors.ts";
import { SqliteDeliveryReceiverState } from "./deno.ts";
import type { DeliverySessionRecord } from "./receiver_state.ts";

const rec = (n: number, over: Partial<DeliverySessionRecord> = {}): DeliverySessionRecord => ({
  peer: "I" + "ab".repeat(32),
  session: n.toString(16).padStart(32, "0"),
  level: "exactly-once",
  delivered: n,
  lastActive: 1_000_000 + n,
  ...over,
});

const badState = (e: unknown) => e instanceof DeliveryError && e.code === "bad-state";

Deno.test("SQLite store: survives closing and opening again; delete; a transaction", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/delivery.db`;
    const state = new SqliteDeliveryReceiverState(path);
    state.save(rec(1));
    state.save(rec(2));
    state.save(rec(1, { delivered: 41 }));
    state.delete(rec(2).peer, rec(2).session);
    state.database.exec("CREATE TABLE effect (n INTEGER)");
    assert.throws(() =>
      state.transaction(() => {
        state.database.exec("INSERT INTO effect VALUES (1)");
        state.save(rec(5));
        throw new Error("rolled back");
      })
    );
    state.transaction(() => {
      state.database.exec("INSERT INTO effect VALUES (2)");
      state.save(rec(6));
    });
    state.close();
    state.close(); // idempotent
    using again = new SqliteDeliveryReceiverState(path, { synchronous: "FULL" });
    const loaded = again.load().sort((a, b) => a.delivered - b.delivered);
    assert.deepEqual(loaded, [rec(6), rec(1, { delivered: 41 })]);
    const effects = again.database.prepare("SELECT n FROM effect").all().map((r) => r.n);
    assert.deepEqual(effects, [2], "the effect and the record: both or neither");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SQLite store: corrupt or hostile contents are bad-state errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Not a database at all.
    await Deno.writeFile(`${dir}/junk.db`, new TextEncoder().encode("x".repeat(4096)));
    assert.throws(() => new SqliteDeliveryReceiverState(`${dir}/junk.db`), badState);
    // A table of the same name with other columns.
    const other = new DatabaseSync(`${dir}/other.db`);
    other.exec("CREATE TABLE delivery_sessions (x INTEGER)");
    other.close();
    assert.throws(() => new SqliteDeliveryReceiverState(`${dir}/other.db`), badState);
    // Rows written behind the store's back: wrong types, out of range, too many.
    const path = `${dir}/hostile.db`;
    using state = new SqliteDeliveryReceiverState(path, { maxRecords: 5 });
    const raw = state.database.prepare("INSERT INTO delivery_sessions VALUES (?, ?, ?, ?, ?)");
    const r = rec(1);
    for (
      const row of [
        [r.peer, r.session, "exactly-once", -5, 1],
        [r.peer, r.session, "maybe", 1, 1],
        [new Uint8Array(3), r.session, "exactly-once", 1, 1],
        [r.peer, "zz", "exactly-once", 1, 1],
        [r.peer, r.session, "exactly-once", 1.25, 1],
        [r.peer, r.session, "exactly-once", "seven", 1],
      ] as const
    ) {
      state.database.exec("DELETE FROM delivery_sessions");
      raw.run(...row);
      assert.throws(() => state.load(), badState, String(row));
    }
    state.database.exec("DELETE FROM delivery_sessions");
    raw.run(r.peer, r.session, "exactly-once", 2 ** 60, 1);
    assert.throws(() => state.load(), badState, "an integer past 2^53");
    state.database.exec("DELETE FROM delivery_sessions");
    for (let i = 0; i < 6; i++) state.save(rec(i));
    assert.throws(() => state.load(), badState, "more records than maxRecords");
    state.delete(rec(0).peer, rec(0).session);
    assert.equal(state.load().length, 5);
    assert.throws(() => state.save({ ...rec(9), session: "nothex" }), badState);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
