// A relay's store-and-forward queue in SQLite (Deno's built-in `node:sqlite`): the queue
// survives a restart or a kill -9 of the relay. SQLite because it is the most widely used
// embedded database, atomic per statement, ships inside Deno (no dependency, no native
// add-on), and a relay queue is a few indexed appends and range deletes. WAL journal with
// synchronous=NORMAL: a committed frame survives the process dying at any point; a power
// cut may lose the last few commits (use `synchronous: "FULL"` to trade throughput for that).
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { QueuedFrame, QueuedName, RelayQueueStore } from "./relay_queue.ts";

/** Options of {@linkcode SqliteRelayQueueStore}. */
export interface SqliteRelayQueueOptions {
  /** SQLite's `synchronous` setting. Default `NORMAL`. */
  synchronous?: "NORMAL" | "FULL";
}

/**
 * Queued frames in a SQLite file at `path` (created if missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteRelayQueueStore } from "@sealroute/sealroute/routing/deno";
 * const dir = await Deno.makeTempDir();
 * const store = new SqliteRelayQueueStore(`${dir}/queue.db`);
 * store.append("forward_to_d", "I1", { bytes: new Uint8Array([9]), at: 1 });
 * store.close();
 * const again = new SqliteRelayQueueStore(`${dir}/queue.db`);
 * assert.equal(again.shift("forward_to_d", 10)[0]!.bytes[0], 9);
 * again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteRelayQueueStore implements RelayQueueStore {
  readonly #db: DatabaseSync;
  readonly #append: StatementSync;
  readonly #head: StatementSync;
  readonly #deleteUpTo: StatementSync;
  readonly #old: StatementSync;
  readonly #deleteOld: StatementSync;
  readonly #clear: StatementSync;
  readonly #names: StatementSync;

  /** Opens (or creates) the queue database at `path`. */
  constructor(path: string, options: SqliteRelayQueueOptions = {}) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(
      `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${
        options.synchronous === "FULL" ? "FULL" : "NORMAL"
      };
      CREATE TABLE IF NOT EXISTS frames (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL, identity TEXT NOT NULL, at INTEGER NOT NULL, bytes BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS frames_by_name ON frames (name, id);`,
    );
    this.#append = this.#db.prepare(
      "INSERT INTO frames (name, identity, at, bytes) VALUES (?, ?, ?, ?)",
    );
    this.#head = this.#db.prepare(
      "SELECT id, at, bytes FROM frames WHERE name = ? ORDER BY id LIMIT ?",
    );
    this.#deleteUpTo = this.#db.prepare("DELETE FROM frames WHERE name = ? AND id <= ?");
    this.#old = this.#db.prepare(
      "SELECT count(*) AS n, coalesce(sum(length(bytes)), 0) AS b FROM frames WHERE name = ? AND at < ?",
    );
    this.#deleteOld = this.#db.prepare("DELETE FROM frames WHERE name = ? AND at < ?");
    this.#clear = this.#db.prepare("DELETE FROM frames WHERE name = ?");
    this.#names = this.#db.prepare(
      `SELECT name, identity, count(*) AS n, sum(length(bytes)) AS b FROM frames
       GROUP BY name, identity`,
    );
  }

  append(name: string, identity: string, frame: QueuedFrame): void {
    this.#append.run(name, identity, frame.at, frame.bytes);
  }

  shift(name: string, max: number): QueuedFrame[] {
    const rows = this.#head.all(name, max) as { id: number; at: number; bytes: Uint8Array }[];
    if (rows.length === 0) return [];
    this.#deleteUpTo.run(name, rows.at(-1)!.id);
    return rows.map((r) => ({ at: Number(r.at), bytes: new Uint8Array(r.bytes) }));
  }

  expire(name: string, before: number): { count: number; bytes: number } {
    const row = this.#old.get(name, before) as { n: number; b: number };
    if (Number(row.n) === 0) return { count: 0, bytes: 0 };
    this.#deleteOld.run(name, before);
    return { count: Number(row.n), bytes: Number(row.b) };
  }

  clear(name: string): { count: number } {
    return { count: Number(this.#clear.run(name).changes) };
  }

  names(): QueuedName[] {
    const rows = this.#names.all() as { name: string; identity: string; n: number; b: number }[];
    return rows.map((r) => ({
      name: r.name,
      identity: r.identity,
      count: Number(r.n),
      bytes: Number(r.b),
    }));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
