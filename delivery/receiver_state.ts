/**
 * The delivery receiver's persistent record: for each session, the point below which every
 * message was handed to the application. A receiver given a store (`state`) writes the
 * record before it acknowledges, and reads it back at start, so a receiver that restarts
 * (a process killed and started again) knows the senders' sessions and suppresses what it
 * delivered before. This module is the interface, its checks and a memory store; a durable
 * one (SQLite) is in `@sealroute/sealroute/delivery/deno`.
 *
 * @module
 */
import { DeliveryError } from "../errors.ts";
import { SESSION_ID_LENGTH } from "./wire.ts";

/** One session's record. */
export interface DeliverySessionRecord {
  /** The peer's identifier (a secure channel's authenticated one; `""` for a local sender). */
  readonly peer: string;
  /** The session id, in lowercase hex (32 digits). */
  readonly session: string;
  /** The session's level. */
  readonly level: "at-least-once" | "exactly-once";
  /** Every seq below was handed to the application (the cumulative acknowledgement). */
  readonly delivered: number;
  /** When the session last delivered a message (`Date.now()` ms). */
  readonly lastActive: number;
}

/**
 * Where a receiver keeps its record. Synchronous on purpose: `save` returns only once the
 * record is durable, and the receiver acknowledges nothing before it returns. A store that
 * throws is a failed write (the receiver resets the session rather than acknowledge).
 */
export interface DeliveryReceiverStateStore {
  /** Every record kept (checked by the receiver: a malformed one is a `bad-state` error). */
  load(): DeliverySessionRecord[];
  /** Adds or replaces the record of `record.peer` / `record.session`. */
  save(record: DeliverySessionRecord): void;
  /** Forgets one session's record (nothing if there is none). */
  delete(peer: string, session: string): void;
}

/** Longest peer identifier a record may carry. */
export const MAX_PEER_LENGTH = 256;

const HEX_SESSION = new RegExp(`^[0-9a-f]{${SESSION_ID_LENGTH * 2}}$`);

/**
 * Checks one record as read back from a store (whose contents may have been tampered with):
 * `DeliveryError` `bad-state` unless every field has its type and range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDeliveryRecord } from "@sealroute/sealroute/delivery";
 * const ok = { peer: "I1", session: "ab".repeat(16), level: "exactly-once", delivered: 3, lastActive: 1 };
 * assert.equal(checkDeliveryRecord(ok).delivered, 3);
 * assert.throws(() => checkDeliveryRecord({ ...ok, delivered: -1 }), { code: "bad-state" });
 * ```
 */
export function checkDeliveryRecord(record: unknown): DeliverySessionRecord {
  const bad = (what: string) => new DeliveryError("bad-state", `a delivery record with ${what}`);
  if (typeof record !== "object" || record === null) throw bad("no fields");
  const r = record as Record<string, unknown>;
  if (typeof r.peer !== "string" || r.peer.length > MAX_PEER_LENGTH) throw bad("a bad peer");
  if (typeof r.session !== "string" || !HEX_SESSION.test(r.session)) throw bad("a bad session");
  if (r.level !== "at-least-once" && r.level !== "exactly-once") throw bad("a bad level");
  for (const key of ["delivered", "lastActive"] as const) {
    const v = r[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad(`a bad ${key}`);
  }
  return {
    peer: r.peer,
    session: r.session,
    level: r.level,
    delivered: r.delivered as number,
    lastActive: r.lastActive as number,
  };
}

/**
 * Reads a store for a receiver starting: every record checked (`bad-state`, two records of
 * one session too), records idle longer than `idle` ms deleted, and beyond `maxSessions` the
 * least recently active deleted. Returns the ones kept, most recently active first.
 */
export function loadDeliveryRecords(
  store: DeliveryReceiverStateStore,
  limits: { maxSessions: number; idle: number; now: number },
): DeliverySessionRecord[] {
  const records = store.load().map(checkDeliveryRecord);
  const seen = new Set<string>();
  for (const r of records) {
    const key = `${r.peer}/${r.session}`;
    if (seen.has(key)) throw new DeliveryError("bad-state", "two records of one session");
    seen.add(key);
  }
  records.sort((a, b) => b.lastActive - a.lastActive);
  const kept: DeliverySessionRecord[] = [];
  for (const r of records) {
    if (limits.now - r.lastActive > limits.idle || kept.length >= limits.maxSessions) {
      store.delete(r.peer, r.session);
    } else kept.push(r);
  }
  return kept;
}

/**
 * A store in memory: survives a receiver worker restarting in the same process (tests, a
 * receiver moved to another address), not the process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryDeliveryReceiverState } from "@sealroute/sealroute/delivery";
 * const state = new MemoryDeliveryReceiverState();
 * state.save({ peer: "", session: "00".repeat(16), level: "exactly-once", delivered: 5, lastActive: 1 });
 * assert.equal(state.load()[0]!.delivered, 5);
 * state.delete("", "00".repeat(16));
 * assert.equal(state.size, 0);
 * ```
 */
export class MemoryDeliveryReceiverState implements DeliveryReceiverStateStore {
  readonly #records = new Map<string, DeliverySessionRecord>();

  /** Records kept. */
  get size(): number {
    return this.#records.size;
  }

  /** Every record kept (copies). */
  load(): DeliverySessionRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  /** Adds or replaces a record (checked: `bad-state`). */
  save(record: DeliverySessionRecord): void {
    const r = checkDeliveryRecord(record);
    this.#records.set(`${r.peer}/${r.session}`, r);
  }

  /** Forgets a record. */
  delete(peer: string, session: string): void {
    this.#records.delete(`${peer}/${session}`);
  }
}
