// OCKAM_WIRE §2.1: the body of one TCP frame, `TcpTransportMessage` as minicbor encodes it.
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import {
  DEFAULT_MAX_ADDRESS_LENGTH,
  DEFAULT_MAX_ROUTE_LENGTH,
  Route,
  type RouteLimits,
} from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";

// Strict: minimal-length integers only, definite lengths only, no undefined/NaN/Infinity,
// no bigints, no tags; maps (never valid there) decode as Map so any key type fails a
// shape check rather than surprising cborg. The TCP body itself is read by hand below.
/** Internal: cborg options for strict decoding, used by the secure channel's codec. */
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
 * Internal: the bytes {@linkcode encodeTcpBody} makes of `parts` with a length prefix and
 * `skipOnward` (no `before`, `after` or `payloadApart`), prefix included.
 */
export function tcpFrameSize(parts: TcpBodyParts, skipOnward: number): number {
  const routes = encodedRoutes(parts.onwardRoute, parts.returnRoute, skipOnward);
  return 4 + 1 + routes.length + headerSize(parts.payload.length) + parts.payload.length;
}

/**
 * Internal: writes the length-prefixed frame {@linkcode tcpFrameSize} measured into `out` at
 * `at` (which must have room), so a transport encodes many messages into one write buffer
 * instead of one buffer each; returns the offset after it. The bytes are those of
 * `encodeTcpBody(parts, { lengthPrefix: true, skipOnward })`.
 */
export function writeTcpFrame(
  out: Uint8Array,
  at: number,
  parts: TcpBodyParts,
  skipOnward: number,
): number {
  const { onwardRoute, returnRoute, payload } = parts;
  const routes = encodedRoutes(onwardRoute, returnRoute, skipOnward);
  const size = 1 + routes.length + headerSize(payload.length) + payload.length;
  out[at] = size >>> 24;
  out[at + 1] = (size >>> 16) & 0xff;
  out[at + 2] = (size >>> 8) & 0xff;
  out[at + 3] = size & 0xff;
  out[at + 4] = 0x83;
  out.set(routes, at + 5);
  at = writeHeader(out, at + 5 + routes.length, 2, payload.length);
  out.set(payload, at);
  return at + payload.length;
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
  const routes = encodedRoutes(onwardRoute, returnRoute, skip);
  const size = (before ? before.length : 0) + 1 + routes.length + headerSize(payload.length) +
    payload.length + (after ? after.length : 0);
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
  out.set(routes, at);
  at += routes.length;
  at = writeHeader(out, at, 2, payload.length);
  if (apart) return out;
  out.set(payload, at);
  if (after) out.set(after, at + payload.length);
  return out;
}

// The routing heads of the messages encoded last, by the identity of their (immutable)
// routes: a channel's frames and a connection's messages repeat the same Route objects, so
// their encoded routes are made once, not once per message. A few entries, round-robin, so
// the channel's plaintexts and the connection's frames do not evict each other.
interface EncodedRoutes {
  onward: Route;
  back: Route;
  skip: number;
  bytes: Uint8Array;
}
const RECENT_HEADS = 4;
const recentHeads: (EncodedRoutes | undefined)[] = new Array(RECENT_HEADS);
let nextHead = 0;

function encodedRoutes(onward: Route, back: Route, skip: number): Uint8Array {
  for (let i = 0; i < RECENT_HEADS; i++) {
    const e = recentHeads[i];
    if (e && e.onward === onward && e.back === back && e.skip === skip) return e.bytes;
  }
  const bytes = new Uint8Array(routeSize(onward, skip) + routeSize(back, 0));
  writeRoute(bytes, writeRoute(bytes, 0, onward, skip), back, 0);
  // Long routes are encoded each time rather than kept.
  if (bytes.length <= RECENT_ROUTE_BYTES) {
    recentHeads[nextHead] = { onward, back, skip, bytes };
    nextHead = (nextHead + 1) % RECENT_HEADS;
  }
  return bytes;
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
 * Decodes Ockam's TCP body; accepts 3 or 4 elements and a `null` or text tracing context
 * (which is checked and dropped). Decoding follows DECODING.md: shortest-form integers
 * and lengths, definite lengths and nothing after the body, as minicbor writes them; each
 * route at most `maxRouteLength` addresses, refused from its header before any address
 * is built, so the memory a decoded message holds is its wire size plus a bounded number
 * of small objects.
 *
 * @throws {DecodeError} code `bad-cbor` for malformed, non-shortest or indefinite-length
 * CBOR, truncation or trailing bytes; `bad-shape` for well-formed CBOR of the wrong shape;
 * `route-too-long` / `address-too-long` past the bounds.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTcpMessage, encodeTcpMessage, RoutedMessage } from "@sealroute/sealroute/routing";
 *
 * const m = new RoutedMessage({ onwardRoute: ["1#127.0.0.1:4000", "echo"], returnRoute: "app" });
 * const back = decodeTcpMessage(encodeTcpMessage(m));
 * assert(back.onwardRoute.equals(m.onwardRoute) && back.returnRoute.equals(m.returnRoute));
 * assert.throws(() => decodeTcpMessage(encodeTcpMessage(m), { maxRouteLength: 1 }), {
 *   code: "route-too-long",
 * });
 * ```
 */
export function decodeTcpMessage(bytes: Uint8Array, options: RouteLimits = {}): RoutedMessage {
  const { message, end } = readTcpBody(bytes, 0, options);
  if (end !== bytes.length) {
    throw new DecodeError(
      "bad-cbor",
      `expected the CBOR TCP message to end at byte ${end}, ${bytes.length - end} bytes follow`,
    );
  }
  return message;
}

/** Internal: options of {@linkcode readTcpBody}. */
export interface ReadTcpBodyOptions extends RouteLimits {
  /**
   * Whether a fourth element (the TCP message's tracing context) may follow the payload.
   * Default `true`; the secure channel's `PlaintextPayloadMessage` has exactly three.
   */
  tracing?: boolean;
}

/**
 * Internal: reads the CBOR `[onward, return, payload(, tracing)]` starting at `at` of
 * `bytes` without a generic CBOR decoder (so no intermediate objects per address);
 * returns the message and the offset just after it. {@linkcode decodeTcpMessage} is this
 * plus "nothing after it"; the secure channel's Payload plaintext carries the same body.
 */
export function readTcpBody(
  bytes: Uint8Array,
  at: number,
  options: ReadTcpBodyOptions = {},
): { message: RoutedMessage; end: number } {
  const limits: Limits = {
    route: options.maxRouteLength ?? DEFAULT_MAX_ROUTE_LENGTH,
    address: options.maxAddressLength ?? DEFAULT_MAX_ADDRESS_LENGTH,
  };
  const r: Cursor = { bytes, at, value: 0 };
  const major = readHead(r);
  const fields = r.value;
  const maxFields = options.tracing === false ? 3 : 4;
  if (major !== 4 || (fields !== 3 && fields !== maxFields)) {
    throw shape(`a CBOR array of ${maxFields === 3 ? "3" : "3 or 4"} elements`);
  }
  const onwardRoute = readRoute(r, limits, "onward");
  const returnRoute = readRoute(r, limits, "return");
  if (readHead(r) !== 2) throw shape("a byte string payload as element 2");
  const payloadStart = r.at;
  skip(r, r.value);
  // `slice` so a caller's `ownedBytes` frame gives a view of a long payload (see below).
  const payload = bytes.slice(payloadStart, r.at);
  if (fields === 4) {
    const kind = readHead(r);
    if (kind === 3) {
      const start = r.at;
      skip(r, r.value);
      try {
        strictUtf8.decode(bytes.subarray(start, r.at));
      } catch {
        throw new DecodeError("bad-cbor", "expected valid UTF-8 in the tracing context");
      }
    } else if (kind !== 7 || r.value !== 22) {
      throw shape("text or null tracing context as element 3");
    }
  }
  return { message: new RoutedMessage({ onwardRoute, returnRoute, payload }), end: r.at };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

interface Limits {
  route: number;
  address: number;
}

interface Cursor {
  readonly bytes: Uint8Array;
  at: number;
  /** The argument of the last head {@linkcode readHead} read. */
  value: number;
}

// RFC 8949 §3: one item head at `r.at`; returns the major type, leaves the argument in
// `r.value`. Refuses what minicbor never writes: longer-than-needed arguments
// (§4.2.1), indefinite lengths and reserved values.
function readHead(r: Cursor): number {
  const bytes = r.bytes;
  const at = r.at;
  if (at >= bytes.length) throw truncated();
  const initial = bytes[at]!;
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (info < 24) {
    r.value = info;
    r.at = at + 1;
    return major;
  }
  // Simple values and floats (major 7) never need a longer head here: only null is read.
  if (info > 27 || (major === 7 && info !== 24)) {
    if (info === 31 && major >= 2 && major <= 5) {
      throw new DecodeError("bad-cbor", "expected a definite length, got an indefinite one");
    }
    if (major === 7 && info >= 25 && info <= 27) {
      r.value = -1; // a float: never a valid value here
      r.at = at + 1 + (1 << (info - 24));
      if (r.at > bytes.length) throw truncated();
      return major;
    }
    throw new DecodeError(
      "bad-cbor",
      `expected a CBOR item, got the byte 0x${initial.toString(16)}`,
    );
  }
  const size = 1 << (info - 24); // 1, 2, 4 or 8 argument bytes
  if (at + 1 + size > bytes.length) throw truncated();
  let value = 0;
  for (let i = 1; i <= size; i++) value = value * 256 + bytes[at + i]!;
  // Shortest form: a 1-byte argument is ≥ 24, a 2-byte one ≥ 2^8, 4-byte ≥ 2^16, 8-byte ≥ 2^32.
  if (value < (size === 1 ? 24 : 2 ** (4 * size))) {
    throw new DecodeError("bad-cbor", "expected the shortest encoding of a CBOR integer or length");
  }
  r.value = value;
  r.at = at + 1 + size;
  return major;
}

function skip(r: Cursor, length: number): void {
  if (length > r.bytes.length - r.at) throw truncated();
  r.at += length;
}

function readRoute(r: Cursor, limits: Limits, which: string): Route {
  const routeStart = r.at;
  if (readHead(r) !== 4) throw shape(`the ${which} route as an array`);
  const count = r.value;
  if (count === 0) return Route.EMPTY;
  if (count > limits.route) throw routeTooLong(which, count, limits.route);
  // Each address takes at least 3 bytes, so a larger count cannot be in the input.
  if (count * 3 > r.bytes.length - r.at) throw truncated();
  const spans: number[] = [];
  for (let i = 0; i < count; i++) {
    if (readHead(r) !== 4 || r.value !== 2) {
      throw shape(`a [type, bytes] address in the ${which} route`);
    }
    if (readHead(r) !== 0 || r.value > 255) {
      throw shape(`a transport type 0..255 in the ${which} route`);
    }
    const tt = r.value;
    if (readHead(r) !== 2) throw shape(`address bytes in the ${which} route`);
    const length = r.value;
    if (length > limits.address) throw addressTooLong(which, length, limits.address);
    spans.push(tt, r.at, length);
    skip(r, length);
  }
  return recentRoutes.get(r.bytes, routeStart, r.at) ??
    recentRoutes.put(r.bytes, routeStart, r.at, routeOfSpans(r.bytes, spans));
}

/** Encoded routes at most this long are remembered by {@linkcode RecentRoutes}. */
const RECENT_ROUTE_BYTES = 256;
/** How many decoded routes {@linkcode RecentRoutes} remembers. */
const RECENT_ROUTES = 8;

// The routes decoded last, by their encoded bytes: a stream of messages between the same
// two workers (a channel's frames, their plaintexts) names the same routes over and over,
// and a Route (with its addresses and their text keys) is immutable, so one decoded object
// serves them all instead of one per message. Bounded: a few short routes, round-robin.
class RecentRoutes {
  #keys: (Uint8Array | undefined)[] = new Array(RECENT_ROUTES);
  #routes: (Route | undefined)[] = new Array(RECENT_ROUTES);
  #next = 0;

  get(bytes: Uint8Array, start: number, end: number): Route | undefined {
    const length = end - start;
    if (length > RECENT_ROUTE_BYTES) return undefined;
    for (let i = 0; i < RECENT_ROUTES; i++) {
      const key = this.#keys[i];
      if (key === undefined || key.length !== length) continue;
      let k = 0;
      while (k < length && key[k] === bytes[start + k]) k++;
      if (k === length) return this.#routes[i];
    }
    return undefined;
  }

  put(bytes: Uint8Array, start: number, end: number, route: Route): Route {
    if (end - start > RECENT_ROUTE_BYTES) return route;
    const i = this.#next;
    this.#next = (i + 1) % RECENT_ROUTES;
    this.#keys[i] = bytes.slice(start, end);
    this.#routes[i] = route;
    return route;
  }
}

const recentRoutes = new RecentRoutes();

const NO_BYTES = new Uint8Array(0);

/**
 * Internal: the route of the addresses at `spans` (type, start, length triples) of
 * `bytes`. Their values are copied into one new buffer and handed out as views of it, so
 * a decoded route never keeps its frame alive and costs one buffer rather than one per
 * address (a typed array with a buffer of its own is ≈ 200 bytes of heap, a view ≈ 100);
 * empty values share one empty array.
 */
export function routeOfSpans(bytes: Uint8Array, spans: readonly number[]): Route {
  let total = 0;
  for (let i = 2; i < spans.length; i += 3) total += spans[i]!;
  const values = total === 0 ? NO_BYTES : new Uint8Array(total);
  const out: Address[] = new Array(spans.length / 3);
  let at = 0;
  for (let i = 0; i < spans.length; i += 3) {
    const start = spans[i + 1]!;
    const length = spans[i + 2]!;
    let value = NO_BYTES;
    if (length > 0) {
      if (length <= 64) { for (let k = 0; k < length; k++) values[at + k] = bytes[start + k]!; }
      else values.set(bytes.subarray(start, start + length), at);
      value = values.subarray(at, at + length);
      at += length;
    }
    out[i / 3] = new Address(spans[i]!, value);
  }
  return new Route(out);
}

function truncated(): DecodeError {
  return new DecodeError("bad-cbor", "expected more CBOR, the input ended");
}

function shape(what: string): DecodeError {
  return new DecodeError("bad-shape", `expected ${what}`);
}

/** Internal: the `route-too-long` error both codecs and the channel raise. */
export function routeTooLong(which: string, count: number, max: number): DecodeError {
  return new DecodeError(
    "route-too-long",
    `expected at most ${max} addresses in the ${which} route, got ${count}`,
  );
}

/** Internal: the `address-too-long` error both codecs and the channel raise. */
export function addressTooLong(which: string, length: number, max: number): DecodeError {
  return new DecodeError(
    "address-too-long",
    `expected addresses of at most ${max} bytes in the ${which} route, got ${length}`,
  );
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
    // A view also where it is most of the buffer (a payload in its plaintext): it then keeps
    // at most twice its own bytes alive.
    const length = end - start;
    if (
      start >= 0 && end <= this.length && (length >= VIEW_THRESHOLD || 2 * length >= this.length)
    ) {
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

/**
 * Internal: a route value decoded by cborg to a {@linkcode Route}, within the same bounds
 * as {@linkcode decodeTcpMessage}; the secure channel's plaintext codec shares it.
 */
export function routeFromCbor(value: unknown, which: string, limits: RouteLimits = {}): Route {
  if (!Array.isArray(value)) {
    throw new DecodeError("bad-shape", `expected the ${which} route as an array`);
  }
  const maxRoute = limits.maxRouteLength ?? DEFAULT_MAX_ROUTE_LENGTH;
  const maxAddress = limits.maxAddressLength ?? DEFAULT_MAX_ADDRESS_LENGTH;
  if (value.length > maxRoute) throw routeTooLong(which, value.length, maxRoute);
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
    if (inner.length > maxAddress) throw addressTooLong(which, inner.length, maxAddress);
    out.push(new Address(tt, inner));
  }
  return new Route(out);
}
