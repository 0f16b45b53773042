/**
 * The authority's message bodies: Ockam's `OneTimeCode` and `CreateToken`, and the text
 * form of an enrollment ticket (a Sealroute format: the code plus the authority's change
 * history and, optionally, its address). See `authority/WIRE.md`.
 *
 * @module
 */
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import {
  arrayOf,
  bytesOf,
  type CborItem,
  type CborValue,
  encodeCbor,
  isAbsent,
  parseCbor,
  uintOf,
} from "../identity/_cbor.ts";
import { boundedText, encodeStruct, fieldsOf } from "./api.ts";

/** Bytes of a one-time code (Ockam's `OneTimeCode`, `ByteArray<32>`): 256 random bits. */
export const ONE_TIME_CODE_LENGTH = 32;

/** Most attributes one ticket or member carries. */
export const MAX_ATTRIBUTES = 32;

/** Longest attribute name, and longest value, in characters. */
export const MAX_ATTRIBUTE_LENGTH = 256;

/** Attribute name → value (Ockam's `BTreeMap<String, String>`). */
export type Attributes = Record<string, string>;

/** A new random one-time code (`crypto.getRandomValues`). */
export function newOneTimeCode(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ONE_TIME_CODE_LENGTH));
}

/**
 * CBOR of Ockam's `OneTimeCode`: the map `{1: bytes(32)}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOneTimeCode, encodeOneTimeCode } from "@sealroute/sealroute/authority";
 * const code = new Uint8Array(32).fill(7);
 * assert.deepEqual(decodeOneTimeCode(encodeOneTimeCode(code)), code);
 * ```
 */
export function encodeOneTimeCode(code: Uint8Array): Uint8Array {
  checkCode(code);
  return encodeStruct([[1, code]]);
}

/**
 * Decodes a `OneTimeCode`; anything but `{1: bytes(32)}` is a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOneTimeCode } from "@sealroute/sealroute/authority";
 * assert.throws(() => decodeOneTimeCode(new Uint8Array([0xa0])), { name: "DecodeError" });
 * ```
 */
export function decodeOneTimeCode(bytes: Uint8Array): Uint8Array {
  const fields = fieldsOf(parseCbor(bytes, "OneTimeCode", 2), "OneTimeCode");
  return bytesOf(fields.get(1), "OneTimeCode code", ONE_TIME_CODE_LENGTH).slice();
}

/** Ockam's `CreateToken`: the attributes a ticket grants, its lifetime and use count. */
export interface CreateToken {
  /** What the enrolled member gets. */
  attributes: Attributes;
  /** Lifetime in seconds; the authority's default when absent. */
  ttlSecs?: number;
  /** How many times it may be used (Sealroute accepts only 1, the default). */
  ttlCount?: number;
}

/**
 * CBOR of a `CreateToken`: `{1: {text: text}, 2: ttl_secs, 3: ttl_count}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCreateToken, encodeCreateToken } from "@sealroute/sealroute/authority";
 * const request = { attributes: { role: "sensor" }, ttlSecs: 600 };
 * assert.deepEqual(decodeCreateToken(encodeCreateToken(request)), request);
 * ```
 */
export function encodeCreateToken(request: CreateToken): Uint8Array {
  const fields: [number, CborValue][] = [[1, attributesToCbor(request.attributes)]];
  if (request.ttlSecs !== undefined) fields.push([2, request.ttlSecs]);
  if (request.ttlCount !== undefined) fields.push([3, request.ttlCount]);
  return encodeStruct(fields);
}

/**
 * Decodes a `CreateToken`; a malformed one, or one with too many or too long attributes,
 * is a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCreateToken } from "@sealroute/sealroute/authority";
 * assert.deepEqual(decodeCreateToken(new Uint8Array([0xa1, 1, 0xa0])), { attributes: {} });
 * ```
 */
export function decodeCreateToken(bytes: Uint8Array): CreateToken {
  const fields = fieldsOf(parseCbor(bytes, "CreateToken", 3), "CreateToken");
  const request: CreateToken = { attributes: attributesFromItem(fields.get(1), "CreateToken") };
  const ttl = fields.get(2);
  const count = fields.get(3);
  if (!isAbsent(ttl)) request.ttlSecs = uintOf(ttl, "CreateToken ttl_secs");
  if (!isAbsent(count)) request.ttlCount = uintOf(count, "CreateToken ttl_count");
  return request;
}

/** A CBOR map of text attributes, keys in bytewise order (as a `BTreeMap<String, String>`). */
export function attributesToCbor(attributes: Attributes): CborValue {
  checkAttributes(attributes);
  return new Map<CborValue, CborValue>(Object.entries(attributes));
}

/** Text attributes from a CBOR map item (bounded, no duplicate names). */
export function attributesFromItem(item: CborItem | undefined, what: string): Attributes {
  if (item?.kind !== "map") {
    throw new DecodeError("unexpected-type", `${what} attributes: expected a map`);
  }
  if (item.entries.length > MAX_ATTRIBUTES) {
    throw new DecodeError("too-long", `${what}: ${item.entries.length} attributes`);
  }
  const attributes: Attributes = Object.create(null);
  for (const [key, value] of item.entries) {
    const name = boundedText(key, `${what} attribute name`, MAX_ATTRIBUTE_LENGTH);
    if (Object.hasOwn(attributes, name)) {
      throw new DecodeError("duplicate-key", `${what}: attribute '${name.slice(0, 32)}' twice`);
    }
    attributes[name] = boundedText(value, `${what} attribute value`, MAX_ATTRIBUTE_LENGTH);
  }
  return { ...attributes };
}

/** Throws a `TypeError` for attributes over the bounds (names must be non-empty). */
export function checkAttributes(attributes: Attributes): void {
  const entries = Object.entries(attributes);
  if (entries.length > MAX_ATTRIBUTES) {
    throw new TypeError(`at most ${MAX_ATTRIBUTES} attributes, got ${entries.length}`);
  }
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > MAX_ATTRIBUTE_LENGTH) {
      throw new TypeError(`attribute names have 1-${MAX_ATTRIBUTE_LENGTH} characters`);
    }
    if (typeof value !== "string" || value.length > MAX_ATTRIBUTE_LENGTH) {
      throw new TypeError(`attribute values are strings of at most ${MAX_ATTRIBUTE_LENGTH}`);
    }
  }
}

/** An enrollment ticket: what a new member needs to enroll once. */
export interface Ticket {
  /** The one-time code (32 random bytes; the authority keeps only its SHA-256). */
  code: Uint8Array;
  /** The authority's change history (the enrolling member checks the authority by it). */
  authority: Uint8Array;
  /** When the ticket expires, in seconds since the epoch. */
  expiresAt: number;
  /** Where the authority listens (`host:port`), when known. */
  address?: string;
}

const TICKET_VERSION = 1;
const MAX_HISTORY = 16 * 1024;
const MAX_ADDRESS = 256;

/**
 * The text form of a ticket: lowercase hex of the CBOR array
 * `[1, code, authority_change_history, expires_at, address?]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTicket, encodeTicket } from "@sealroute/sealroute/authority";
 * const ticket = { code: new Uint8Array(32), authority: new Uint8Array([0x80]), expiresAt: 60 };
 * assert.deepEqual(decodeTicket(encodeTicket(ticket)), ticket);
 * ```
 */
export function encodeTicket(ticket: Ticket): string {
  checkCode(ticket.code);
  const fields: CborValue[] = [TICKET_VERSION, ticket.code, ticket.authority, ticket.expiresAt];
  if (ticket.address !== undefined) fields.push(ticket.address);
  return toHex(encodeCbor(fields));
}

/**
 * Decodes a ticket's text form; anything malformed is a `DecodeError`. It does not check
 * the authority's change history (the enrolling side imports it) or the expiry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTicket } from "@sealroute/sealroute/authority";
 * assert.throws(() => decodeTicket("not a ticket"), { name: "DecodeError", code: "bad-ticket" });
 * ```
 */
export function decodeTicket(text: string): Ticket {
  const trimmed = String(text).trim();
  if (trimmed.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(trimmed)) {
    throw new DecodeError("bad-ticket", "a ticket is an even number of hex characters");
  }
  if (trimmed.length > 2 * (MAX_HISTORY + 1024)) {
    throw new DecodeError("too-long", `a ticket of ${trimmed.length} characters`);
  }
  const fields = arrayOf(parseCbor(fromHex(trimmed), "ticket", 2), "ticket", 4, 5);
  const version = uintOf(fields[0], "ticket version", 0xffff);
  if (version !== TICKET_VERSION) {
    throw new DecodeError("unknown-version", `ticket version ${version}`);
  }
  const authority = bytesOf(fields[2], "ticket authority");
  if (authority.length > MAX_HISTORY) {
    throw new DecodeError("too-long", `authority change history of ${authority.length} bytes`);
  }
  const ticket: Ticket = {
    code: bytesOf(fields[1], "ticket code", ONE_TIME_CODE_LENGTH).slice(),
    authority: authority.slice(),
    expiresAt: uintOf(fields[3], "ticket expires_at"),
  };
  if (fields[4] !== undefined) {
    ticket.address = boundedText(fields[4], "ticket address", MAX_ADDRESS);
  }
  return ticket;
}

function checkCode(code: Uint8Array): void {
  if (!(code instanceof Uint8Array) || code.length !== ONE_TIME_CODE_LENGTH) {
    throw new TypeError(`a one-time code is ${ONE_TIME_CODE_LENGTH} bytes`);
  }
}
