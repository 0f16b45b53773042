/**
 * Ockam's portal messages (`ockam_transport_tcp/src/portal/portal_message.rs`, hand-written
 * BARE), byte for byte, and the two Sealroute extensions a Sealroute peer offers in its
 * `Ping` / `Pong` and uses only when the other side offered them too.
 *
 * | Message      | Bytes                                                     |
 * |--------------|-----------------------------------------------------------|
 * | `Ping`       | `00` [`53 52 01` varint window]                            |
 * | `Pong`       | `01` [`53 52 01` varint window]                            |
 * | `Disconnect` | `02` [reason]                                              |
 * | `Payload`    | `03` varint length, bytes [`00` \| `01` counter u16 LE]    |
 * | `End`        | `20` (extension: the sender is done writing, a half-close) |
 * | `Credit`     | `21` varint bytes (extension: the receiver wrote so many)  |
 *
 * Ockam's decoder reads only the first byte of `Ping`, `Pong` and `Disconnect`, so the
 * bracketed tails are invisible to an Ockam peer; a Sealroute peer never sends `End`,
 * `Credit`, a `Disconnect` reason or a `Payload` counter to a peer that did not offer the
 * extension (Rust Ockam at this commit does not write the counter either); the decoder reads
 * it when the three bytes `01` + u16 follow the payload, as Elixir writes it.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";

/** Ockam's largest `Payload` chunk (its `MAX_PAYLOAD_SIZE`, 48 KiB). */
export const MAX_PORTAL_PAYLOAD_SIZE = 48 * 1024;

/** The largest flow-control window or credit a peer may announce (64 MiB). */
export const MAX_PORTAL_WINDOW = 64 * 1024 * 1024;

/** Why a portal connection ended, as the extension's `Disconnect` reason byte. */
export type DisconnectReason =
  | "closed"
  | "refused"
  | "target-unreachable"
  | "idle"
  | "protocol"
  | "limit";

const REASONS: readonly DisconnectReason[] = [
  "closed",
  "refused",
  "target-unreachable",
  "idle",
  "protocol",
  "limit",
];

/** One portal message. `window` on `ping`/`pong` means the peer offers the extension. */
export type PortalMessage =
  | { readonly type: "ping"; readonly window?: number }
  | { readonly type: "pong"; readonly window?: number }
  | { readonly type: "disconnect"; readonly reason?: DisconnectReason }
  | { readonly type: "payload"; readonly data: Uint8Array; readonly counter?: number }
  | { readonly type: "end" }
  | { readonly type: "credit"; readonly bytes: number };

const MAGIC = [0x53, 0x52, 0x01] as const; // "SR", extension version 1

/**
 * Encodes a portal message (Ockam's bytes for `ping`, `pong`, `disconnect`, `payload`).
 *
 * @throws {RangeError} for a window or credit outside 1..{@linkcode MAX_PORTAL_WINDOW}.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePortalMessage } from "@sealroute/sealroute/portal";
 * assert.deepEqual(encodePortalMessage({ type: "ping" }), new Uint8Array([0]));
 * const payload = encodePortalMessage({ type: "payload", data: new Uint8Array([5, 5]) });
 * assert.deepEqual(payload, new Uint8Array([3, 2, 5, 5]));
 * ```
 */
export function encodePortalMessage(message: PortalMessage): Uint8Array {
  switch (message.type) {
    case "ping":
    case "pong": {
      const tag = message.type === "ping" ? 0 : 1;
      if (message.window === undefined) return new Uint8Array([tag]);
      return new Uint8Array([tag, ...MAGIC, ...varint(checkWindow(message.window))]);
    }
    case "disconnect":
      return message.reason === undefined
        ? new Uint8Array([2])
        : new Uint8Array([2, REASONS.indexOf(message.reason)]);
    case "payload":
      return encodePayload(message.data, message.counter);
    case "end":
      return new Uint8Array([0x20]);
    case "credit":
      return new Uint8Array([0x21, ...varint(checkWindow(message.bytes))]);
  }
}

/**
 * Encodes a `Payload` (Ockam's `03`, varint length, bytes), copying `data` once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePayload } from "@sealroute/sealroute/portal";
 * const bytes = encodePayload(new Uint8Array([5, 5]), 0xaabb);
 * assert.deepEqual(bytes, new Uint8Array([3, 2, 5, 5, 1, 0xbb, 0xaa]));
 * ```
 */
export function encodePayload(data: Uint8Array, counter?: number): Uint8Array {
  const length = varint(data.length);
  const tail = counter === undefined ? 0 : 3;
  const out = new Uint8Array(1 + length.length + data.length + tail);
  out[0] = 3;
  out.set(length, 1);
  out.set(data, 1 + length.length);
  if (counter !== undefined) {
    if (!Number.isInteger(counter) || counter < 0 || counter > 0xffff) {
      throw new RangeError(`a payload counter is a u16, got ${counter}`);
    }
    const at = 1 + length.length + data.length;
    out[at] = 1;
    out[at + 1] = counter & 0xff;
    out[at + 2] = counter >> 8;
  }
  return out;
}

/**
 * Decodes a portal message. It reads what Ockam writes (Rust: no `Payload` counter; Elixir:
 * `00` or `01` + counter) and the extension; other trailing bytes, which Ockam's decoder
 * would ignore but no Ockam encoder writes, are refused (DECODING.md's rule).
 *
 * @throws {DecodeError} code `empty`, `unknown-variant`, `truncated`, `trailing-bytes`,
 * `varint-overflow`, `non-minimal-varint`, `bad-window` or `bad-reason`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePortalMessage } from "@sealroute/sealroute/portal";
 * const m = decodePortalMessage(new Uint8Array([3, 2, 5, 5, 1, 0xbb, 0xaa]));
 * assert(m.type === "payload" && m.data.length === 2 && m.counter === 0xaabb);
 * assert.deepEqual(decodePortalMessage(new Uint8Array([2])), { type: "disconnect" });
 * ```
 */
export function decodePortalMessage(bytes: Uint8Array): PortalMessage {
  if (bytes.length === 0) throw new DecodeError("empty", "an empty portal message");
  const tag = bytes[0]!;
  switch (tag) {
    case 0:
    case 1: {
      const type = tag === 0 ? "ping" : "pong";
      if (bytes.length === 1) return { type };
      if (!hasMagic(bytes)) throw trailing(type);
      const { value, offset } = readVarint(bytes, 1 + MAGIC.length);
      if (offset !== bytes.length) throw trailing(type);
      return { type, window: checkPeerWindow(value) };
    }
    case 2: {
      if (bytes.length === 1) return { type: "disconnect" };
      if (bytes.length > 2) throw trailing("disconnect");
      const reason = REASONS[bytes[1]!];
      if (reason === undefined) {
        throw new DecodeError("bad-reason", `unknown disconnect reason ${bytes[1]}`);
      }
      return { type: "disconnect", reason };
    }
    case 3: {
      const { value: length, offset } = readVarint(bytes, 1);
      if (length > bytes.length - offset) {
        throw new DecodeError(
          "truncated",
          `a payload of ${length} bytes with ${bytes.length - offset} left`,
        );
      }
      const end = offset + length;
      const data = bytes.subarray(offset, end);
      const tail = bytes.length - end;
      // What Ockam writes: nothing (Rust), `00` or `01` + u16 LE counter (Elixir).
      if (tail === 0 || (tail === 1 && bytes[end] === 0)) return { type: "payload", data };
      if (tail === 3 && bytes[end] === 1) {
        return { type: "payload", data, counter: bytes[end + 1]! | (bytes[end + 2]! << 8) };
      }
      throw trailing("payload");
    }
    case 0x20:
      if (bytes.length > 1) throw trailing("end");
      return { type: "end" };
    case 0x21: {
      const { value, offset } = readVarint(bytes, 1);
      if (offset !== bytes.length) throw trailing("credit");
      return { type: "credit", bytes: checkPeerWindow(value) };
    }
    default:
      throw new DecodeError("unknown-variant", `unknown portal message variant ${tag}`);
  }
}

function trailing(type: string): DecodeError {
  return new DecodeError("trailing-bytes", `bytes after a ${type} message that no Ockam writes`);
}

function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length && bytes[1] === MAGIC[0] && bytes[2] === MAGIC[1] &&
    bytes[3] === MAGIC[2];
}

function checkWindow(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PORTAL_WINDOW) {
    throw new RangeError(`a window or credit is 1..${MAX_PORTAL_WINDOW} bytes, got ${n}`);
  }
  return n;
}

function checkPeerWindow(n: number): number {
  if (n < 1 || n > MAX_PORTAL_WINDOW) {
    throw new DecodeError(
      "bad-window",
      `a window or credit of ${n} bytes (1..${MAX_PORTAL_WINDOW})`,
    );
  }
  return n;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A BARE varint up to 2^53 - 1 (lengths and windows; longer ones cannot be in memory). */
function readVarint(bytes: Uint8Array, at: number): { value: number; offset: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = bytes[at + i];
    if (b === undefined) throw new DecodeError("truncated", "a truncated varint");
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new DecodeError("non-minimal-varint", "a non-minimal varint");
      return { value, offset: at + i + 1 };
    }
    scale *= 0x80;
  }
  throw new DecodeError("varint-overflow", "a varint longer than 8 bytes");
}
