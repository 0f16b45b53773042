/**
 * The plaintext inside a secure channel's AEAD, as Ockam encodes it (`message.rs`):
 * `SecureChannelPaddedMessage = [message, padding]` where `message` is
 * `[0, [[onward, return, payload]]]` (Payload), `[1, [[change_history, credentials]]]`
 * (RefreshCredentials) or `[2, []]` (Close).
 *
 * @module
 */
import { Tokenizer, Type } from "cborg";
import { concat } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import { DECODE_OPTIONS, encodeTcpBody, readTcpBody } from "../routing/tcp_codec.ts";

/** One decoded secure-channel plaintext. */
export type ChannelMessage =
  | { readonly kind: "payload"; readonly message: RoutedMessage }
  | {
    readonly kind: "refresh-credentials";
    /** The CBOR `RefreshCredentialsMessage` (`[change_history, credentials]`), for identity to decode. */
    readonly body: Uint8Array;
  }
  | { readonly kind: "close" };

const PAYLOAD_HEAD = new Uint8Array([0x82, 0x82, 0x00, 0x81]);
const REFRESH_HEAD = new Uint8Array([0x82, 0x82, 0x01, 0x81]);
const EMPTY_BSTR = new Uint8Array([0x40]);

/** `Close` exactly as Ockam writes it: `82 82 02 80 40`. */
export const CLOSE_BYTES: Uint8Array = new Uint8Array([0x82, 0x82, 0x02, 0x80, 0x40]);

/**
 * Encodes a plaintext channel message (padding is always empty, as Ockam sends it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChannelMessage, encodeChannelMessage } from "@sealroute/sealroute/channel";
 * import { RoutedMessage } from "@sealroute/sealroute/routing";
 * const bytes = encodeChannelMessage({
 *   kind: "payload",
 *   message: new RoutedMessage({ onwardRoute: "echo", returnRoute: "app", payload: new Uint8Array([1]) }),
 * });
 * const back = decodeChannelMessage(bytes);
 * assert.equal(back.kind, "payload");
 * ```
 */
export function encodeChannelMessage(message: ChannelMessage): Uint8Array {
  switch (message.kind) {
    case "payload":
      // [[0, [<the TCP body's [onward, return, payload]>]], h''], sharing routing's encoder,
      // which writes head, body and tail into one allocation.
      return encodeTcpBody(message.message, { before: PAYLOAD_HEAD, after: EMPTY_BSTR });
    case "refresh-credentials":
      return concat(REFRESH_HEAD, message.body, EMPTY_BSTR);
    case "close":
      return CLOSE_BYTES.slice();
  }
}

function shape(what: string): DecodeError {
  return new DecodeError("bad-shape", `expected ${what} in a secure channel message`);
}

function badCbor(what: string): DecodeError {
  return new DecodeError("bad-cbor", `expected CBOR: ${what.slice(0, 120)}`);
}

/** A cursor over the plaintext, read by hand (no object tree, nothing re-encoded). */
interface Cursor {
  readonly bytes: Uint8Array;
  at: number;
}

// One item head (RFC 8949 §3) with a shortest-form argument below 2^32, as minicbor
// writes every head this structure has; returns [major, argument].
function head(r: Cursor): [number, number] {
  const { bytes, at } = r;
  if (at >= bytes.length) throw badCbor("the message ended early");
  const initial = bytes[at]!;
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (info < 24) {
    r.at = at + 1;
    return [major, info];
  }
  if (info > 26 || major === 7) throw badCbor(`unexpected byte 0x${initial.toString(16)}`);
  const size = 1 << (info - 24);
  if (at + 1 + size > bytes.length) throw badCbor("the message ended early");
  let value = 0;
  for (let i = 1; i <= size; i++) value = value * 256 + bytes[at + i]!;
  if (value < (size === 1 ? 24 : 2 ** (4 * size))) {
    throw badCbor("a CBOR integer or length not in its shortest form");
  }
  r.at = at + 1 + size;
  return [major, value];
}

// Steps over one CBOR item of any shape, strictly, in work linear in its bytes: tokens
// are counted, never built into objects.
function skipItem(r: Cursor): void {
  const tokenizer = new Tokenizer(r.bytes.subarray(r.at), DECODE_OPTIONS);
  let remaining = 1;
  try {
    while (remaining > 0) {
      if (tokenizer.done()) throw new Error("the message ended early");
      const token = tokenizer.next();
      remaining--;
      if (Type.equals(token.type, Type.array)) remaining += token.value as number;
      else if (Type.equals(token.type, Type.map)) remaining += 2 * (token.value as number);
      else if (Type.equals(token.type, Type.tag)) throw new Error("a CBOR tag");
    }
  } catch (error) {
    throw badCbor((error as Error).message.replace(/^CBOR decode error: /, ""));
  }
  r.at += tokenizer.pos();
}

// The padding: one byte string, then nothing.
function padding(r: Cursor): void {
  const [major, length] = head(r);
  if (major !== 2) throw shape("[message, padding]");
  if (length > r.bytes.length - r.at) throw badCbor("the message ended early");
  r.at += length;
  if (r.at !== r.bytes.length) {
    throw badCbor(`${r.bytes.length - r.at} bytes after the secure channel message`);
  }
}

/**
 * Decodes a plaintext channel message; anything malformed is a `DecodeError`. The padding
 * may be any byte string and is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLOSE_BYTES, decodeChannelMessage } from "@sealroute/sealroute/channel";
 * assert.equal(decodeChannelMessage(CLOSE_BYTES).kind, "close");
 * ```
 */
export function decodeChannelMessage(bytes: Uint8Array): ChannelMessage {
  // Read by hand: a route is checked against its bounds from its header, before any
  // address exists, and a RefreshCredentials body is sliced out as received.
  const r: Cursor = { bytes, at: 0 };
  const [outer, outerLength] = head(r);
  if (outer !== 4 || outerLength !== 2) throw shape("[message, padding]");
  const [inner, innerLength] = head(r);
  if (inner !== 4 || innerLength !== 2) throw shape("[variant, fields]");
  const [variantMajor, variant] = head(r);
  const [fieldsMajor, fields] = head(r);
  if (variantMajor !== 0 || fieldsMajor !== 4) throw shape("[variant, fields]");
  if (variant === 2 && fields === 0) {
    padding(r);
    return { kind: "close" };
  }
  if (fields !== 1 || (variant !== 0 && variant !== 1)) {
    throw shape("a Payload, RefreshCredentials or Close variant");
  }
  if (variant === 1) {
    const start = r.at;
    const [bodyMajor, bodyLength] = head(r);
    if (bodyMajor !== 4 || bodyLength !== 2) throw shape("[change_history, credentials]");
    skipItem(r);
    if (head({ bytes, at: r.at })[0] !== 4) throw shape("[change_history, credentials]");
    skipItem(r);
    const body = bytes.slice(start, r.at);
    padding(r);
    return { kind: "refresh-credentials", body };
  }
  const { message, end } = readTcpBody(bytes, r.at, { tracing: false });
  r.at = end;
  padding(r);
  return { kind: "payload", message };
}
