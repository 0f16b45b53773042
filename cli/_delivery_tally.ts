// The device's count of what clients' reliable streams delivered (`device stopping
// delivered=N duplicates=D out_of_order=O`), by the sequence number a client stream puts on
// each message's first line. With a database (the delivery receiver's SQLite state, under
// `--resume`) the tally is kept there, written in the same transaction as the receiver's
// record of the message: a device killed and restarted goes on counting where it was, and
// a message delivered twice across the crash would show as a duplicate.
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Sequence numbers tallied for duplicates (2 MiB of bits at most). */
const MAX_TALLIED = 16 * 1024 * 1024;
/** Bytes of the seen-bitmap written as one row. */
const CHUNK = 1024;

const SCHEMA = `CREATE TABLE IF NOT EXISTS delivery_tally (
    k INTEGER PRIMARY KEY CHECK (k = 0), delivered INTEGER NOT NULL,
    duplicates INTEGER NOT NULL, out_of_order INTEGER NOT NULL, last INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS delivery_tally_seen (chunk INTEGER PRIMARY KEY, bits BLOB NOT NULL);`;

/** Counts delivered messages, duplicates and reorderings of one device's client streams. */
export class DeliveryTally {
  delivered = 0;
  duplicates = 0;
  /** Messages that came after one with a higher sequence number. */
  outOfOrder = 0;
  #last = -1;
  #seen = new Uint8Array(CHUNK);
  readonly #put: { counters: StatementSync; chunk: StatementSync } | undefined;

  /** A tally in memory, or kept in `db` (read back from it first). */
  constructor(db?: DatabaseSync) {
    if (!db) return;
    db.exec(SCHEMA);
    const row = db.prepare("SELECT * FROM delivery_tally WHERE k = 0").get();
    const n = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) ? v : 0);
    if (row) {
      this.delivered = n(row.delivered);
      this.duplicates = n(row.duplicates);
      this.outOfOrder = n(row.out_of_order);
      this.#last = Math.max(-1, n(row.last));
    }
    for (const { chunk, bits } of db.prepare("SELECT chunk, bits FROM delivery_tally_seen").all()) {
      const at = n(chunk) * CHUNK;
      if (!(bits instanceof Uint8Array) || bits.length !== CHUNK || at >= MAX_TALLIED >> 3) {
        continue; // not what this tally writes: ignored
      }
      this.#grow(at + CHUNK);
      this.#seen.set(bits, at);
    }
    this.#put = {
      counters: db.prepare(
        "INSERT OR REPLACE INTO delivery_tally VALUES (0, ?, ?, ?, ?)",
      ),
      chunk: db.prepare("INSERT OR REPLACE INTO delivery_tally_seen VALUES (?, ?)"),
    };
  }

  /** Counts one delivered message (and writes the tally, when it is kept in a database). */
  count(message: { payload: Uint8Array }): void {
    this.delivered++;
    const newline = message.payload.indexOf(0x0a);
    const seq = Number(new TextDecoder().decode(message.payload.subarray(0, newline)));
    if (Number.isSafeInteger(seq) && seq >= 0 && seq < MAX_TALLIED) {
      if (seq < this.#last) this.outOfOrder++;
      this.#last = Math.max(this.#last, seq);
      this.#grow((seq >> 3) + 1);
      const bit = 1 << (seq & 7);
      if (this.#seen[seq >> 3]! & bit) this.duplicates++;
      this.#seen[seq >> 3]! |= bit;
      const chunk = Math.floor((seq >> 3) / CHUNK);
      this.#put?.chunk.run(chunk, this.#seen.subarray(chunk * CHUNK, (chunk + 1) * CHUNK));
    }
    this.#put?.counters.run(this.delivered, this.duplicates, this.outOfOrder, this.#last);
  }

  #grow(bytes: number): void {
    if (bytes <= this.#seen.length) return;
    const size = Math.min(MAX_TALLIED >> 3, Math.max(bytes, this.#seen.length * 2));
    const grown = new Uint8Array(Math.ceil(size / CHUNK) * CHUNK);
    grown.set(this.#seen);
    this.#seen = grown;
  }
}
