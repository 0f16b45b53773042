// Sealroute's undeliverable notice (see undeliverable.ts): its BARE codec and bounds.
import { DecodeError } from "../errors.ts";
import { BareReader, BareWriter } from "./_bare.ts";
import { Address } from "./address.ts";
import { Route } from "./route.ts";

/** Largest notice payload accepted, in bytes (larger ones are dropped unread). */
export const MAX_NOTICE_BYTES = 2048;
/** At most this many bytes of the unreachable address go into a notice (it is truncated). */
export const MAX_NOTICE_ADDRESS_BYTES = 128;
/** Most hops of the waiting route a notice carries; with more, no notice is sent. */
export const MAX_NOTICE_WAITING_HOPS = 8;
const VERSION = 1;
const MAX_CODE_BYTES = 32;
const CODE = /^[a-z][a-z0-9-]*$/;
const encoder = new TextEncoder();

/** A decoded notice. */
export interface UndeliverableNotice {
  /** Why: `unknown-address` (no worker the sender may reach). */
  readonly code: string;
  /** The address the far node could not deliver to (possibly truncated). */
  readonly address: Address;
  /** Whether `address` was cut to {@linkcode MAX_NOTICE_ADDRESS_BYTES}. */
  readonly truncated: boolean;
  /** The rest of the original return route: its first hop is the worker that waits. */
  readonly waiting: Route;
}

/** What {@linkcode encodeUndeliverableNotice} encodes. */
export interface NoticeFields {
  /** Why: `unknown-address`. */
  readonly code: string;
  /** The unreachable address; cut to {@linkcode MAX_NOTICE_ADDRESS_BYTES}. */
  readonly address: Address;
  /** Mark the address as truncated already (a notice passed on). Default `false`. */
  readonly truncated?: boolean;
  /** Who waits: the rest of the original return route. */
  readonly waiting: Route;
}

/**
 * Encodes a notice (BARE): `u8` version 1, `string` code, the address (`u8` type, `data`
 * value of at most 128 bytes, longer ones cut), `u8` flags (bit 0: truncated), then the
 * waiting route as a BARE route (varint count, each `u8` type and `data` value).
 *
 * @throws {RangeError} for a waiting route longer than
 * {@linkcode MAX_NOTICE_WAITING_HOPS} or with an address over 128 bytes, or a bad code.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Address, decodeUndeliverableNotice, encodeUndeliverableNotice, Route,
 * } from "@sealroute/sealroute/routing";
 * const bytes = encodeUndeliverableNotice({
 *   code: "unknown-address",
 *   address: Address.local("forward_to_nosuch"),
 *   waiting: Route.from("initiator"),
 * });
 * assert.equal(decodeUndeliverableNotice(bytes).address.toString(), "forward_to_nosuch");
 * ```
 */
export function encodeUndeliverableNotice(notice: NoticeFields): Uint8Array {
  const { code, address, waiting } = notice;
  if (!CODE.test(code) || code.length > MAX_CODE_BYTES) throw new RangeError(`bad code '${code}'`);
  if (waiting.length > MAX_NOTICE_WAITING_HOPS) {
    throw new RangeError(`a waiting route of ${waiting.length} hops cannot be carried`);
  }
  const w = new BareWriter(64);
  w.u8(VERSION);
  w.data(encoder.encode(code));
  w.u8(address.type);
  const truncated = notice.truncated === true || address.value.length > MAX_NOTICE_ADDRESS_BYTES;
  w.data(address.value.subarray(0, MAX_NOTICE_ADDRESS_BYTES));
  w.u8(truncated ? 1 : 0);
  w.smallVarint(waiting.length);
  for (const hop of waiting) {
    if (hop.value.length > MAX_NOTICE_ADDRESS_BYTES) {
      throw new RangeError(`a waiting address of ${hop.value.length} bytes cannot be carried`);
    }
    w.u8(hop.type);
    w.data(hop.value);
  }
  return w.finish();
}

/**
 * Decodes a notice, strictly: at most {@linkcode MAX_NOTICE_BYTES}, version 1, a code of
 * lowercase letters, digits and `-` (at most 32), addresses of at most 128 bytes, 1 to
 * {@linkcode MAX_NOTICE_WAITING_HOPS} waiting hops (none: the link itself is told), no unknown flag, nothing after.
 *
 * @throws {DecodeError} codes `too-large`, `bad-version`, `bad-code`, `bad-flags`,
 * `address-too-long`, `route-too-long`, `truncated`, `trailing-bytes`, ...
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeUndeliverableNotice } from "@sealroute/sealroute/routing";
 * assert.throws(() => decodeUndeliverableNotice(new Uint8Array([2])), { code: "bad-version" });
 * ```
 */
export function decodeUndeliverableNotice(bytes: Uint8Array): UndeliverableNotice {
  if (bytes.length > MAX_NOTICE_BYTES) {
    throw new DecodeError("too-large", `a notice is at most ${MAX_NOTICE_BYTES} bytes`);
  }
  const r = new BareReader(bytes);
  const version = r.u8();
  if (version !== VERSION) {
    throw new DecodeError("bad-version", `expected notice version ${VERSION}, got ${version}`);
  }
  const code = r.string();
  if (code.length > MAX_CODE_BYTES || !CODE.test(code)) {
    throw new DecodeError("bad-code", "expected a notice code of lowercase letters and '-'");
  }
  const address = readAddress(r);
  const flags = r.u8();
  if (flags > 1) throw new DecodeError("bad-flags", `unknown notice flags 0x${flags.toString(16)}`);
  const count = r.varint();
  if (count > MAX_NOTICE_WAITING_HOPS) {
    throw new DecodeError(
      "route-too-long",
      `a notice carries at most ${MAX_NOTICE_WAITING_HOPS} hops, got ${count}`,
    );
  }
  const hops: Address[] = [];
  for (let i = 0; i < count; i++) hops.push(readAddress(r));
  r.end();
  return { code, address, truncated: flags === 1, waiting: new Route(hops) };
}

function readAddress(r: BareReader): Address {
  const type = r.u8();
  const length = r.varint();
  if (length > MAX_NOTICE_ADDRESS_BYTES) {
    throw new DecodeError("address-too-long", `a notice address is at most 128 bytes`);
  }
  r.skip(length);
  const value = r.bytes.slice(r.offset - length, r.offset);
  if (type === 0 && length === 0) throw new DecodeError("bad-address", "an empty local address");
  return new Address(type, value);
}
