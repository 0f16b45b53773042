// OCKAM_WIRE §2.1: the body of one TCP frame, `TcpTransportMessage` as minicbor encodes it.
import { decode as cborDecode } from "cborg";
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import { Route } from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";

// Strict: minimal-length integers only, definite lengths only, no undefined/NaN/Infinity,
// no bigints, no tags; maps (never valid here) decode as Map so any key type fails the
// shape check below rather than surprising cborg.
/** Internal: cborg options for strict decoding; the secure channel's codec shares them. */
export const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  useMaps: true,
  rejectDuplicateMapKeys: true,
  tags: [],
} as const;

/** Options for {@linkcode encodeTcpMessage}. */
export interface EncodeTcpOptions {
  /**
   * Put the body's `u32` big-endian length in front (the TCP frame of OCKAM_WIRE §2.1),
   * saving transports a copy. Default `false`.
   */
  lengthPrefix?: boolean;
}

/**
 * Encodes a message as Ockam's TCP body: CBOR `[onward, return, payload]` where an address
 * is `[tt, bstr]` and a route an array of addresses (definite lengths, shortest integers,
 * as minicbor writes them). The optional fourth element (`tracing_context`) is omitted;
 * local info is never encoded. The bytes equal `cborg.encode` of the same structure; the
 * encoder is hand-written so the payload is copied once, straight into the frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTcpMessage, RoutedMessage } from "@sealroute/sealroute/routing";
 *
 * const bytes = encodeTcpMessage(new RoutedMessage({ onwardRoute: "onward", payload: new Uint8Array([7]) }));
 * // 83 | 81 82 00 46 "onward" | 80 | 41 07
 * assert(bytes[0] === 0x83 && bytes[1] === 0x81 && bytes.at(-1) === 7);
 * ```
 */
export function encodeTcpMessage(
  message: RoutedMessage,
  options: EncodeTcpOptions = {},
): Uint8Array {
  return encodeTcpBody(message, options);
}

/** Internal: what {@linkcode encodeTcpBody} encodes; a `RoutedMessage` fits. */
export interface TcpBodyParts {
  /** The onward route (see `skipOnward`). */
  readonly onwardRoute: Route;
  /** The return route. */
  readonly returnRoute: Route;
  /** The payload. */
  readonly payload: Uint8Array;
}

/** Internal: options of {@linkcode encodeTcpBody}. */
export interface EncodeTcpBodyOptions extends EncodeTcpOptions {
  /** Leading onward addresses left out (a worker popping itself). Default 0. */
  skipOnward?: number;
  /** Bytes written in front of the body (after the length prefix, which counts them). */
  before?: Uint8Array;
  /** Bytes written after the body (counted by the length prefix). */
  after?: Uint8Array;
  /**
   * Stop after the payload's CBOR header, leaving the payload's bytes (and `after`) out
   * of the result, though the length prefix still counts them: the caller writes the
   * payload itself next, uncopied. Default `false`.
   */
  payloadApart?: boolean;
}

/**
 * Internal: {@linkcode encodeTcpMessage} without building a `RoutedMessage`, and with
 * bytes around the body, so callers that wrap the body (the secure channel's Payload
 * plaintext) or pop a hop (a transport's sender) allocate and copy the payload once.
 */
export function encodeTcpBody(parts: TcpBodyParts, options: EncodeTcpBodyOptions = {}): Uint8Array {
  const { onwardRoute, returnRoute, payload } = parts;
  const skip = options.skipOnward ?? 0;
  const before = options.before;
  const after = options.after;
  const prefix = options.lengthPrefix ? 4 : 0;
  const size = (before ? before.length : 0) + 1 + routeSize(onwardRoute, skip) +
    routeSize(returnRoute, 0) + headerSize(payload.length) + payload.length +
    (after ? after.length : 0);
  const apart = options.payloadApart === true;
  const out = new Uint8Array(prefix + size - (apart ? payload.length + (after?.length ?? 0) : 0));
  if (prefix) {
    out[0] = size >>> 24;
    out[1] = (size >>> 16) & 0xff;
    out[2] = (size >>> 8) & 0xff;
    out[3] = size & 0xff;
  }
  let at = prefix;
  if (before) {
    out.set(before, at);
    at += before.length;
  }
  out[at++] = 0x83;
  at = writeRoute(out, at, onwardRoute, skip);
  at = writeRoute(out, at, returnRoute, 0);
  at = writeHeader(out, at, 2, payload.length);
  if (apart) return out;
  out.set(payload, at);
  if (after) out.set(after, at + payload.length);
  return out;
}

function headerSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

// RFC 8949 §3.1: major type in the top 3 bits, shortest argument encoding.
function writeHeader(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = m | 26;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}

function routeSize(route: Route, skip: number): number {
  const n = route.length;
  let size = headerSize(Math.max(0, n - skip));
  for (let i = skip; i < n; i++) {
    const a = route.at(i)!;
    size += 1 + headerSize(a.type) + headerSize(a.value.length) + a.value.length;
  }
  return size;
}

function writeRoute(out: Uint8Array, at: number, route: Route, skip: number): number {
  const n = route.length;
  at = writeHeader(out, at, 4, Math.max(0, n - skip));
  for (let i = skip; i < n; i++) {
    const a = route.at(i)!;
    out[at++] = 0x82;
    at = writeHeader(out, at, 0, a.type);
    at = writeHeader(out, at, 2, a.value.length);
    out.set(a.value, at);
    at += a.value.length;
  }
  return at;
}

/**
 * Decodes Ockam's TCP body; accepts 3 or 4 elements and a `null` or text tracing context.
 *
 * @throws {DecodeError} code `bad-cbor` for malformed CBOR or trailing bytes, `bad-shape`
 * for well-formed CBOR of the wrong shape.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTcpMessage, encodeTcpMessage, RoutedMessage } from "@sealroute/sealroute/routing";
 *
 * const m = new RoutedMessage({ onwardRoute: ["1#127.0.0.1:4000", "echo"], returnRoute: "app" });
 * const back = decodeTcpMessage(encodeTcpMessage(m));
 * assert(back.onwardRoute.equals(m.onwardRoute) && back.returnRoute.equals(m.returnRoute));
 * ```
 */
export function decodeTcpMessage(bytes: Uint8Array): RoutedMessage {
  let value: unknown;
  try {
    value = cborDecode(bytes, DECODE_OPTIONS);
  } catch (error) {
    // cborg throws plain Errors (and deep nesting a RangeError); all mean "not valid CBOR".
    throw new DecodeError("bad-cbor", `expected a CBOR TCP message: ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || (value.length !== 3 && value.length !== 4)) {
    throw new DecodeError("bad-shape", "expected a CBOR array of 3 or 4 elements");
  }
  const [onward, ret, payload, tracing] = value as unknown[];
  if (!(payload instanceof Uint8Array)) {
    throw new DecodeError("bad-shape", "expected a byte string payload as element 2");
  }
  if (tracing !== undefined && tracing !== null && typeof tracing !== "string") {
    throw new DecodeError("bad-shape", "expected text or null tracing context as element 3");
  }
  return new RoutedMessage({
    onwardRoute: routeFromCbor(onward, "onward"),
    returnRoute: routeFromCbor(ret, "return"),
    payload,
  });
}

/** Byte strings at least this long decode as views of {@linkcode ownedBytes}. */
const VIEW_THRESHOLD = 1024;

// cborg's decoder copies every byte string out of its input with `data.slice(...)`
// (cborg 6 lib/2bytes.js). On these bytes `slice` gives a view for long strings, so a
// payload is not copied a second time; short ones (addresses) are still copied so they
// never keep a large buffer alive. Only sound for buffers nothing writes to afterwards.
class OwnedBytes extends Uint8Array<ArrayBuffer> {
  // Views made by `subarray` (and `super.slice`) are plain arrays, never this class.
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  override slice(start = 0, end: number = this.length): Uint8Array<ArrayBuffer> {
    if (start >= 0 && end <= this.length && end - start >= VIEW_THRESHOLD) {
      return new Uint8Array(this.buffer, this.byteOffset + start, end - start);
    }
    return super.slice(start, end);
  }
}

/**
 * Internal: `bytes` (same memory) marked as owned by the decoder's caller, so that
 * {@linkcode decodeTcpMessage} and the channel's codec return long byte strings as views
 * of it instead of copies. Only for buffers that are never reused or changed afterwards
 * (a frame assembled by the transport, a freshly decrypted plaintext).
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  return new OwnedBytes(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length);
}

/** Internal: a decoded CBOR route value to a {@linkcode Route}; the secure channel shares it. */
export function routeFromCbor(value: unknown, which: string): Route {
  if (!Array.isArray(value)) {
    throw new DecodeError("bad-shape", `expected the ${which} route as an array`);
  }
  const out: Address[] = [];
  for (const item of value as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2) {
      throw new DecodeError("bad-shape", `expected a [type, bytes] address in the ${which} route`);
    }
    const [tt, inner] = item as unknown[];
    if (typeof tt !== "number" || !Number.isInteger(tt) || tt < 0 || tt > 255) {
      throw new DecodeError("bad-shape", `expected a transport type 0..255 in the ${which} route`);
    }
    if (!(inner instanceof Uint8Array)) {
      throw new DecodeError("bad-shape", `expected address bytes in the ${which} route`);
    }
    out.push(new Address(tt, inner));
  }
  return new Route(out);
}
