/**
 * The plaintext inside a secure channel's AEAD, as Ockam encodes it (`message.rs`):
 * `SecureChannelPaddedMessage = [message, padding]` where `message` is
 * `[0, [[onward, return, payload]]]` (Payload), `[1, [[change_history, credentials]]]`
 * (RefreshCredentials) or `[2, []]` (Close).
 *
 * @module
 */
import { decode, encode } from "cborg";
import { concat } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import { RoutedMessage } from "../routing/routed_message.ts";
import { DECODE_OPTIONS, encodeTcpBody, routeFromCbor } from "../routing/tcp_codec.ts";

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
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch (error) {
    throw new DecodeError("bad-cbor", `expected CBOR: ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || value.length !== 2 || !(value[1] instanceof Uint8Array)) {
    throw shape("[message, padding]");
  }
  const inner: unknown = value[0];
  if (!Array.isArray(inner) || inner.length !== 2 || !Array.isArray(inner[1])) {
    throw shape("[variant, fields]");
  }
  const [variant, fields] = inner as [unknown, unknown[]];
  if (variant === 2 && fields.length === 0) return { kind: "close" };
  const [body] = fields;
  if (fields.length !== 1 || !Array.isArray(body) || (variant !== 0 && variant !== 1)) {
    throw shape("a Payload, RefreshCredentials or Close variant");
  }
  if (variant === 1) {
    if (body.length !== 2 || !Array.isArray(body[1])) throw shape("[change_history, credentials]");
    return { kind: "refresh-credentials", body: encode(body) };
  }
  if (body.length !== 3 || !(body[2] instanceof Uint8Array)) {
    throw shape("[onward, return, payload]");
  }
  return {
    kind: "payload",
    message: new RoutedMessage({
      onwardRoute: routeFromCbor(body[0], "onward"),
      returnRoute: routeFromCbor(body[1], "return"),
      payload: body[2],
    }),
  };
}
