/**
 * The reliable-delivery layer's wire format (delivery/WIRE.md): three frame types, BARE
 * primitives, a version byte first. Decoding is strict and bounded: every length is
 * checked, numbers must be safe integers, ranges ordered, nothing may trail.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import { BareReader, BareWriter } from "../routing/_bare.ts";

/** The version byte every frame starts with. */
export const DELIVERY_WIRE_VERSION = 1;
/** Length of a session identifier, in bytes. */
export const SESSION_ID_LENGTH = 16;
/** Most selective-acknowledgement ranges an ACK frame carries. */
export const MAX_SACK_RANGES = 16;
/** Largest window a receiver may grant, in messages. */
export const MAX_WINDOW = 1 << 20;
/** Default largest frame {@linkcode decodeDeliveryFrame} accepts: 1 MiB of payload plus headers. */
export const DEFAULT_MAX_FRAME_BYTES: number = 1024 * 1024 + 64;

/** Delivery levels, as the wire numbers them. */
export type DeliveryLevel = "none" | "at-least-once" | "exactly-once";
const LEVELS: readonly DeliveryLevel[] = ["none", "at-least-once", "exactly-once"];

/** Why a receiver reset a session. */
export type ResetReason = "closed" | "refused";
const REASONS: readonly ResetReason[] = ["closed", "refused"];

/** A message: sequence number `seq` of `session`; every seq below `base` was acknowledged. */
export interface DataFrame {
  /** Frame type 0. */
  readonly type: "data";
  /** The sender's session, 16 random bytes. */
  readonly session: Uint8Array;
  /** The level the sender chose for the session. */
  readonly level: DeliveryLevel;
  /** Every seq below was acknowledged as delivered (where a new receiver session starts). */
  readonly base: number;
  /** This message's sequence number. */
  readonly seq: number;
  /** The application's bytes (the rest of the frame). */
  readonly payload: Uint8Array;
}

/**
 * The receiver's acknowledgement: every seq below `cumulative` was handed to the
 * application; `ranges` (`[start, end)`, ascending) are held; the sender may have seqs
 * below `cumulative + window` out. `echo` is the seq of the newest DATA frame that arrived
 * (the sender times its round trip by it).
 */
export interface AckFrame {
  /** Frame type 1. */
  readonly type: "ack";
  /** The session acknowledged. */
  readonly session: Uint8Array;
  /** Every seq below was handed to the application. */
  readonly cumulative: number;
  /** Messages beyond `cumulative` the sender may have out (1 .. {@linkcode MAX_WINDOW}). */
  readonly window: number;
  /** The seq of the newest DATA frame that arrived. */
  readonly echo: number;
  /** Held, not yet delivered: `[start, end)`, ascending, disjoint, at most 16. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** The receiver ended the session: pending messages will never be delivered. */
export interface ResetFrame {
  /** Frame type 2. */
  readonly type: "reset";
  /** The session ended. */
  readonly session: Uint8Array;
  /** `closed`: the receiver stopped; `refused`: it will not take (or hand on) the session. */
  readonly reason: ResetReason;
}

/** Any delivery frame. */
export type DeliveryFrame = DataFrame | AckFrame | ResetFrame;

const TYPES = ["data", "ack", "reset"] as const;

/**
 * Encodes a frame. Throws `RangeError` for values the format cannot carry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDeliveryFrame, encodeDeliveryFrame } from "@sealroute/sealroute/delivery";
 * const session = new Uint8Array(16);
 * const bytes = encodeDeliveryFrame({
 *   type: "ack", session, cumulative: 3, window: 64, echo: 6, ranges: [[5, 7]],
 * });
 * const frame = decodeDeliveryFrame(bytes);
 * assert(frame.type === "ack" && frame.cumulative === 3 && frame.ranges[0]![1] === 7);
 * ```
 */
export function encodeDeliveryFrame(frame: DeliveryFrame): Uint8Array {
  if (frame.session.length !== SESSION_ID_LENGTH) {
    throw new RangeError(`a session id has ${SESSION_ID_LENGTH} bytes`);
  }
  if (frame.type === "data") {
    return encodeData(frame.session, frame.level, frame.base, frame.seq, frame.payload);
  }
  const w = new BareWriter(64);
  w.u8(DELIVERY_WIRE_VERSION);
  w.u8(TYPES.indexOf(frame.type));
  w.bytes(frame.session);
  if (frame.type === "ack") {
    if (frame.ranges.length > MAX_SACK_RANGES) throw new RangeError("too many ranges");
    w.varint(safe(frame.cumulative));
    w.varint(safe(frame.window));
    w.varint(safe(frame.echo));
    w.u8(frame.ranges.length);
    for (const [start, end] of frame.ranges) {
      w.varint(safe(start));
      w.varint(safe(end));
    }
  } else {
    w.u8(REASONS.indexOf(frame.reason));
  }
  return w.finish();
}

/** Internal fast path: a DATA frame, the payload copied once after a small header. */
export function encodeData(
  session: Uint8Array,
  level: DeliveryLevel,
  base: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const head = new Uint8Array(2 + SESSION_ID_LENGTH + 1 + 20);
  head[0] = DELIVERY_WIRE_VERSION;
  head[1] = 0;
  head.set(session, 2);
  head[2 + SESSION_ID_LENGTH] = LEVELS.indexOf(level);
  let n = 3 + SESSION_ID_LENGTH;
  n = putVarint(head, n, safe(base));
  n = putVarint(head, n, safe(seq));
  const out = new Uint8Array(n + payload.length);
  out.set(head.subarray(0, n));
  out.set(payload, n);
  return out;
}

function putVarint(into: Uint8Array, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    into[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  into[at++] = v;
  return at;
}

function safe(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe u53: ${n}`);
  return n;
}

/**
 * Decodes one frame, strictly: `DecodeError` for a wrong version or type, a truncated or
 * oversized frame, a number above 2^53 − 1, a window of 0 or above {@linkcode MAX_WINDOW},
 * more than {@linkcode MAX_SACK_RANGES} ranges, ranges empty, unordered or overlapping, or
 * trailing bytes. A DATA frame's payload is a view into `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecodeError } from "@sealroute/sealroute/errors";
 * import { decodeDeliveryFrame } from "@sealroute/sealroute/delivery";
 * assert.throws(() => decodeDeliveryFrame(new Uint8Array([9, 0])), DecodeError);
 * ```
 */
export function decodeDeliveryFrame(
  bytes: Uint8Array,
  options: { maxFrameBytes?: number } = {},
): DeliveryFrame {
  const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (bytes.length > max) {
    throw new DecodeError("too-large", `a delivery frame of ${bytes.length} bytes (max ${max})`);
  }
  const r = new BareReader(bytes);
  const version = r.u8();
  if (version !== DELIVERY_WIRE_VERSION) {
    throw new DecodeError("bad-version", `expected delivery wire version 1, got ${version}`);
  }
  const type = TYPES[r.u8()];
  if (!type) throw new DecodeError("bad-type", "unknown delivery frame type");
  const start = r.offset;
  r.skip(SESSION_ID_LENGTH);
  const session = bytes.subarray(start, r.offset);
  if (type === "data") {
    const level = LEVELS[r.u8()];
    if (!level) throw new DecodeError("bad-level", "unknown delivery level");
    const base = u53(r);
    const seq = u53(r);
    if (seq < base) throw new DecodeError("bad-seq", `seq ${seq} below base ${base}`);
    return { type, session, level, base, seq, payload: bytes.subarray(r.offset) };
  }
  if (type === "reset") {
    const reason = REASONS[r.u8()];
    if (!reason) throw new DecodeError("bad-reason", "unknown reset reason");
    r.end();
    return { type, session, reason };
  }
  const cumulative = u53(r);
  const window = u53(r);
  if (window < 1 || window > MAX_WINDOW) {
    throw new DecodeError("bad-window", `window ${window} outside 1..${MAX_WINDOW}`);
  }
  const echo = u53(r);
  const count = r.u8();
  if (count > MAX_SACK_RANGES) {
    throw new DecodeError("too-many-ranges", `${count} ranges (max ${MAX_SACK_RANGES})`);
  }
  const ranges: [number, number][] = [];
  // The first range starts at the cumulative point or above, each later one above the end
  // of the one before (adjacent ranges are one range).
  let floor = cumulative - 1;
  for (let i = 0; i < count; i++) {
    const from = u53(r);
    const to = u53(r);
    if (from <= floor || to <= from) {
      throw new DecodeError("bad-range", "ranges must be non-empty, ascending, disjoint");
    }
    ranges.push([from, to]);
    floor = to;
  }
  r.end();
  return { type, session, cumulative, window, echo, ranges };
}

function u53(r: BareReader): number {
  const value = r.varint();
  if (!Number.isSafeInteger(value)) {
    throw new DecodeError("too-large", "a delivery number above 2^53 - 1");
  }
  return value;
}
