import { BareReader, BareWriter } from "./_bare.ts";

const encoder = new TextEncoder();

/**
 * Encodes a u64 as a BARE varint (ULEB128, OCKAM_WIRE §0.2).
 *
 * @throws {RangeError} for a negative value or one above 2^64-1.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeVarint } from "@sealroute/sealroute/routing";
 * assert(encodeVarint(300).join() === "172,2");
 * ```
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  const w = new BareWriter(10);
  w.varint(value);
  return w.finish();
}

/**
 * Decodes a BARE varint at `offset`; at most 10 bytes, a 10th byte must be `0x01`, and
 * the form must be the shortest (no last byte `0x00` after a continuation byte).
 *
 * @throws {DecodeError} code `truncated`, `varint-overflow` or `non-minimal-varint`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVarint } from "@sealroute/sealroute/routing";
 * const { value, offset } = decodeVarint(new Uint8Array([0xac, 0x02]));
 * assert(value === 300n && offset === 2);
 * ```
 */
export function decodeVarint(bytes: Uint8Array, offset = 0): { value: bigint; offset: number } {
  const r = new BareReader(bytes, offset);
  const value = r.varintBig();
  return { value, offset: r.offset };
}

/**
 * Encodes a BARE `string` (varint length + UTF-8), the body of Ockam `String` messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBareString } from "@sealroute/sealroute/routing";
 * assert(encodeBareString("register")[0] === 8);
 * ```
 */
export function encodeBareString(text: string): Uint8Array {
  const utf8 = encoder.encode(text);
  const w = new BareWriter(utf8.length + 5);
  w.data(utf8);
  return w.finish();
}

/**
 * Decodes a whole buffer as one BARE `string`.
 *
 * @throws {DecodeError} codes `truncated`, `bad-utf8`, `varint-overflow`,
 * `non-minimal-varint`, `trailing-bytes`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBareString, encodeBareString } from "@sealroute/sealroute/routing";
 * assert(decodeBareString(encodeBareString("héllo")) === "héllo");
 * ```
 */
export function decodeBareString(bytes: Uint8Array): string {
  const r = new BareReader(bytes);
  const s = r.string();
  r.end();
  return s;
}
