/**
 * Deno adapter of the delivery module: the receiver's record kept in SQLite (Deno's built-in
 * `node:sqlite`), so a receiver killed with SIGKILL and started again knows its senders'
 * sessions and delivers each message once. SQLite for the reasons the relay queue uses it
 * (routing/sqlite_relay_queue.ts): atomic per statement, inside Deno, no dependency; and an
 * application can put its own effect in the same database and the same transaction as the
 * record (`transaction` and `DeliveredMessage.commit`), which files could not offer.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { DeliveryError } from "../errors.ts";
import {
  checkDeliveryRecord,
  type DeliveryReceiverStateStore,
  type DeliverySessionRecord,
} from "./receiver_state.ts";

/** Options of {@linkcode SqliteDeliveryReceiverState}. */
export interface SqliteDeliveryStateOptions {
  /**
   * SQLite's `synchronous` setting (the journal is WAL). `NORMAL` (default): a written record
   * survives the process dying at any point; a power cut may lose the last few, and then
   * the messages they covered are delivered again, or (if the sender had their
   * acknowledgement) its frames are refused as `bad-base` and it fails with `gave-up`.
   * `FULL`: survives that too, at an fsync per message.
   */
  synchronous?: "NORMAL" | "FULL";
  /** Most records `load` accepts; more is a `bad-state` error. Default 4096. */
  maxRecords?: number;
}

/**
 * A receiver's record in a SQLite file at `path` (created if missing; table
 * `delivery_sessions`). `load` checks what it reads: a file that is not such a database, or
 * rows of the wrong type or range, are `DeliveryError` `bad-state`.
 *
 * @example A receiver's record, read back by a new store on the same file
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteDeliveryReceiverState } from "@sealroute/sealroute/delivery/deno";
 * const dir = await Deno.makeTempDir();
 * const state = new SqliteDeliveryReceiverState(`${dir}/delivery.db`);
 * state.save({ peer: "I1", session: "ab".repeat(16), level: "exactly-once", delivered: 7, lastActive: 1 });
 * state.close();
 * const again = new SqliteDeliveryReceiverState(`${dir}/delivery.db`);
 * assert.equal(again.load()[0]!.delivered, 7);
 * again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteDeliveryReceiverState implements DeliveryReceiverStateStore, Disposable {
  readonly #db: DatabaseSync;
  readonly #maxRecords: number;
  readonly #load: StatementSync;
  readonly #save: StatementSync;
  readonly #delete: StatementSync;
  #closed = false;

  /** Opens (or creates) the database at `path`; `DeliveryError` `bad-state` if it cannot. */
  constructor(path: string, options: SqliteDeliveryStateOptions = {}) {
    this.#maxRecords = options.maxRecords ?? 4096;
    if (!Number.isSafeInteger(this.#maxRecords) || this.#maxRecords < 1) {
      throw new RangeError("maxRecords must be a positive integer");
    }
    const sync = options.synchronous === "FULL" ? "FULL" : "NORMAL";
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec(
        `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync}; PRAGMA busy_timeout = 5000;
        CREATE TABLE IF NOT EXISTS delivery_sessions (
          peer TEXT NOT NULL, session TEXT NOT NULL, level TEXT NOT NULL,
          delivered INTEGER NOT NULL, last_active INTEGER NOT NULL,
          PRIMARY KEY (peer, session)) WITHOUT ROWID;`,
      );
      this.#load = db.prepare(
        `SELECT peer, session, level, delivered, last_active AS lastActive
         FROM delivery_sessions LIMIT ?`,
      );
      this.#save = db.prepare(
        `INSERT INTO delivery_sessions (peer, session, level, delivered, last_active)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer, session) DO UPDATE SET
         level = excluded.level, delivered = excluded.delivered,
         last_active = excluded.last_active`,
      );
      this.#delete = db.prepare("DELETE FROM delivery_sessions WHERE peer = ? AND session = ?");
    } catch (error) {
      db?.close();
      throw new DeliveryError("bad-state", "not a delivery state database", { cause: error });
    }
    this.#db = db;
  }

  /**
   * The database, for an application that writes its own effect in the same transaction as
   * the record (see {@linkcode SqliteDeliveryReceiverState.transaction}). Do not touch the
   * `delivery_sessions` table.
   */
  get database(): DatabaseSync {
    return this.#db;
  }

  /** Every record, checked (`DeliveryError` `bad-state`). */
  load(): DeliverySessionRecord[] {
    let rows: unknown[];
    try {
      rows = this.#load.all(this.#maxRecords + 1);
    } catch (error) {
      throw new DeliveryError("bad-state", "the delivery state cannot be read", { cause: error });
    }
    if (rows.length > this.#maxRecords) {
      throw new DeliveryError("bad-state", `more than ${this.#maxRecords} delivery records`);
    }
    return rows.map(checkDeliveryRecord);
  }

  /** Writes a record (checked first: `bad-state`); durable when it returns. */
  save(record: DeliverySessionRecord): void {
    const r = checkDeliveryRecord(record);
    this.#save.run(r.peer, r.session, r.level, r.delivered, r.lastActive);
  }

  /** Deletes a record. */
  delete(peer: string, session: string): void {
    this.#delete.run(peer, session);
  }

  /**
   * Runs `fn` in one transaction (`BEGIN IMMEDIATE` … `COMMIT`, rolled back if it throws):
   * inside `onMessage`, write the effect and call `message.commit()` in `fn`, and both are
   * committed together or not at all. `fn` must be synchronous: another session's record
   * written while it awaited would join the transaction.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteDeliveryReceiverState } from "@sealroute/sealroute/delivery/deno";
   * const state = new SqliteDeliveryReceiverState(":memory:");
   * state.database.exec("CREATE TABLE got (n INTEGER)");
   * assert.throws(() => state.transaction(() => {
   *   state.database.exec("INSERT INTO got VALUES (1)");
   *   throw new Error("undone");
   * }));
   * const rows = state.database.prepare("SELECT count(*) AS n FROM got").get();
   * assert.equal(rows?.n, 0);
   * state.close();
   * ```
   */
  transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Closes the database (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.close();
  }
}
