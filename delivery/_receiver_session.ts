// One receiver session's state (its reorder buffer, return route, acknowledgement timer) and
// its record in a `state` store: created for a new sender, brought back from a record, and
// written as the delivered point moves. delivery/receiver.ts owns the sessions.
import type { Flow } from "../routing/flow_controls.ts";
import { Route } from "../routing/route.ts";
import type { LocalInfo } from "../routing/routed_message.ts";
import { Reorder } from "./_reorder.ts";
import type { DeliveryReceiverStateStore, DeliverySessionRecord } from "./receiver_state.ts";
import type { DeliveryLevel } from "./wire.ts";

/** What a held message carries beside its payload. */
export interface Extra {
  localInfo: LocalInfo;
  flow: Flow | undefined;
}

/** One sender's session at a receiver. */
export interface Session {
  readonly key: string;
  readonly id: Uint8Array;
  /** The peer's identifier and the id in hex: the session's record in the store. */
  readonly peer: string;
  readonly hexId: string;
  readonly level: DeliveryLevel;
  readonly reorder: Reorder<Extra>;
  returnRoute: Route;
  lastActive: number;
  draining: boolean;
  ackTimer: ReturnType<typeof setTimeout> | undefined;
  sinceAck: number;
  ended: boolean;
}

/** A session starting at `start` (every seq below counts as delivered). */
export function newSession(
  peer: string,
  id: Uint8Array,
  level: DeliveryLevel,
  start: number,
  bounds: { window: number; maxBytes: number },
): Session {
  const hexId = hex(id);
  return {
    key: `${peer}/${hexId}`,
    id,
    peer,
    hexId,
    level,
    reorder: new Reorder({ window: bounds.window, maxBytes: bounds.maxBytes, start }),
    returnRoute: Route.EMPTY, // until its sender's next frame says where acknowledgements go
    lastActive: Date.now(),
    draining: false,
    ackTimer: undefined,
    sinceAck: 0,
    ended: false,
  };
}

/** The session a (checked) record describes, at its delivered point. */
export function restoredSession(
  record: DeliverySessionRecord,
  bounds: { window: number; maxBytes: number },
): Session {
  const id = new Uint8Array(record.session.length / 2);
  for (let i = 0; i < id.length; i++) {
    id[i] = parseInt(record.session.slice(2 * i, 2 * i + 2), 16);
  }
  const session = newSession(record.peer, id, record.level, record.delivered, bounds);
  session.lastActive = record.lastActive;
  return session;
}

/** Writes the session's delivered point: before any acknowledgement can announce it. */
export function recordSession(
  state: DeliveryReceiverStateStore,
  s: Session,
  delivered: number,
): void {
  if (s.level === "none") return;
  state.save({ peer: s.peer, session: s.hexId, level: s.level, delivered, lastActive: Date.now() });
}

/** Bytes in lowercase hex. */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
