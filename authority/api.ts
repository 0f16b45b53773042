/**
 * Ockam's request/response envelope (`ockam_core::api`), as the authority services speak
 * it: a CBOR `RequestHeader` (or `ResponseHeader`) followed by an optional CBOR body, the
 * whole carried as a BARE byte string (a `Vec<u8>` message). See `authority/WIRE.md`.
 *
 * @module
 */
import { Tokenizer, Type } from "cborg";
import { DecodeError } from "../errors.ts";
import {
  type CborItem,
  type CborValue,
  encodeCbor,
  isAbsent,
  parseCbor,
  textOf,
  uintOf,
} from "../identity/_cbor.ts";
import { decodeVarint, encodeVarint } from "../routing/bare.ts";

/** Request methods, by their CBOR index (`Method`: Get 0, Post 1, Put 2, Delete 3, Patch 4). */
export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"] as const;

/** A request method. */
export type Method = typeof METHODS[number];

/** The response statuses Ockam defines (`Status`, encoded as the number itself). */
export const STATUSES = [200, 400, 401, 403, 404, 405, 408, 409, 500, 501] as const;

/** A response status. */
export type Status = typeof STATUSES[number];

/** Ockam's `RequestHeader` (a CBOR map `{1: id, 2: path, 3: method, 4: has_body}`). */
export interface RequestHeader {
  /** Request id (u32), echoed as the response's `re`. */
  id: number;
  /** Path such as `"/"` or `"/credential"`. */
  path: string;
  /** Method; absent when the sender sent none (or one this side does not know). */
  method?: Method;
  /** Whether a body follows the header. */
  hasBody: boolean;
}

/** Ockam's `ResponseHeader` (a CBOR map `{1: id, 2: re, 3: status, 4: has_body}`). */
export interface ResponseHeader {
  /** Response id (u32). */
  id: number;
  /** The id of the request answered. */
  re: number;
  /** Status; absent when the sender sent none. */
  status?: Status;
  /** Whether a body follows the header. */
  hasBody: boolean;
}

/** Ockam's `api::Error` body (`{1: path, 2: method, 3: message, 4: cause}`), cause dropped. */
export interface ApiError {
  /** The request path it answers. */
  path?: string;
  /** The request method. */
  method?: Method;
  /** What went wrong, for people. */
  message?: string;
}

/** A decoded request or response: the header and the raw CBOR body (one item), if any. */
export interface Envelope<H> {
  /** The header. */
  header: H;
  /** The body's CBOR bytes, exactly as received; absent when `has_body` is false. */
  body?: Uint8Array;
}

/** Largest envelope a decoder accepts, in bytes (a credential is ~ 1 KiB). */
export const MAX_ENVELOPE_SIZE = 64 * 1024;

const MAX_PATH = 256;
const MAX_MESSAGE = 1024;

/** A fresh random request id (u32), as Ockam's `Id::fresh`. */
export function freshId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * The bytes of a request: header then body, BARE-wrapped as Ockam sends a `Vec<u8>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRequest, encodeRequest } from "@sealroute/sealroute/authority";
 * const bytes = encodeRequest({ id: 7, path: "/", method: "POST" });
 * assert.deepEqual(decodeRequest(bytes).header, { id: 7, path: "/", method: "POST", hasBody: false });
 * ```
 */
export function encodeRequest(
  header: Omit<RequestHeader, "hasBody">,
  body?: Uint8Array,
): Uint8Array {
  const fields: [number, CborValue][] = [[1, header.id], [2, header.path]];
  if (header.method !== undefined) fields.push([3, METHODS.indexOf(header.method)]);
  fields.push([4, body !== undefined]);
  return wrap(concat(encodeStruct(fields), body));
}

/**
 * Decodes a request (BARE-wrapped header and body); anything malformed is a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRequest } from "@sealroute/sealroute/authority";
 * assert.throws(() => decodeRequest(new Uint8Array([5, 1])), { name: "DecodeError" });
 * ```
 */
export function decodeRequest(bytes: Uint8Array): Envelope<RequestHeader> {
  const { header, body } = split(unwrap(bytes), "RequestHeader");
  const fields = fieldsOf(header, "RequestHeader");
  const method = fields.get(3);
  const decoded: RequestHeader = {
    id: uintOf(fields.get(1), "RequestHeader id", 0xffffffff),
    path: boundedText(fields.get(2), "RequestHeader path", MAX_PATH),
    hasBody: boolField(fields.get(4), "RequestHeader has_body"),
  };
  if (!isAbsent(method)) {
    const index = uintOf(method, "RequestHeader method", 0xffff);
    if (index < METHODS.length) decoded.method = METHODS[index]!;
  }
  return withBody(decoded, body, "request");
}

/**
 * The bytes of a response: header then body, BARE-wrapped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeResponse, encodeResponse } from "@sealroute/sealroute/authority";
 * const { header } = decodeResponse(encodeResponse({ id: 1, re: 7, status: 200 }));
 * assert.equal(header.status, 200);
 * ```
 */
export function encodeResponse(
  header: Omit<ResponseHeader, "hasBody">,
  body?: Uint8Array,
): Uint8Array {
  const fields: [number, CborValue][] = [[1, header.id], [2, header.re]];
  if (header.status !== undefined) fields.push([3, header.status]);
  fields.push([4, body !== undefined]);
  return wrap(concat(encodeStruct(fields), body));
}

/**
 * Decodes a response; anything malformed is a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeResponse } from "@sealroute/sealroute/authority";
 * assert.throws(() => decodeResponse(new Uint8Array([1, 0xa0])), { name: "DecodeError" });
 * ```
 */
export function decodeResponse(bytes: Uint8Array): Envelope<ResponseHeader> {
  const { header, body } = split(unwrap(bytes), "ResponseHeader");
  const fields = fieldsOf(header, "ResponseHeader");
  const status = fields.get(3);
  const decoded: ResponseHeader = {
    id: uintOf(fields.get(1), "ResponseHeader id", 0xffffffff),
    re: uintOf(fields.get(2), "ResponseHeader re", 0xffffffff),
    hasBody: boolField(fields.get(4), "ResponseHeader has_body"),
  };
  if (!isAbsent(status)) {
    const code = uintOf(status, "ResponseHeader status", 0xffff);
    if ((STATUSES as readonly number[]).includes(code)) decoded.status = code as Status;
  }
  return withBody(decoded, body, "response");
}

/**
 * CBOR of an `api::Error` body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeApiError, encodeApiError } from "@sealroute/sealroute/authority";
 * const error = { path: "/", method: "POST" as const, message: "unknown ticket" };
 * assert.deepEqual(decodeApiError(encodeApiError(error)), error);
 * ```
 */
export function encodeApiError(error: ApiError): Uint8Array {
  const fields: [number, CborValue][] = [];
  if (error.path !== undefined) fields.push([1, error.path]);
  if (error.method !== undefined) fields.push([2, METHODS.indexOf(error.method)]);
  if (error.message !== undefined) fields.push([3, error.message.slice(0, MAX_MESSAGE)]);
  return encodeStruct(fields);
}

/**
 * Decodes an `api::Error` body (a nested `cause` is accepted and dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeApiError } from "@sealroute/sealroute/authority";
 * assert.deepEqual(decodeApiError(new Uint8Array([0xa0])), {});
 * ```
 */
export function decodeApiError(bytes: Uint8Array): ApiError {
  const fields = fieldsOf(parseCbor(bytes, "api::Error", 16), "api::Error");
  const error: ApiError = {};
  const path = fields.get(1);
  const method = fields.get(2);
  const message = fields.get(3);
  if (!isAbsent(path)) error.path = boundedText(path, "api::Error path", MAX_PATH);
  if (!isAbsent(method)) {
    const index = uintOf(method, "api::Error method", 0xffff);
    if (index < METHODS.length) error.method = METHODS[index]!;
  }
  if (!isAbsent(message)) error.message = boundedText(message, "api::Error message", MAX_MESSAGE);
  return error;
}

/**
 * CBOR of a minicbor `#[cbor(map)]` struct: a map with uint keys in field order (at most 23
 * fields), absent optional fields left out.
 */
export function encodeStruct(fields: readonly [number, CborValue][]): Uint8Array {
  if (fields.length > 23) throw new RangeError("at most 23 fields");
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 | fields.length)];
  for (const [key, value] of fields) parts.push(encodeCbor(key), encodeCbor(value));
  return concatAll(parts);
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fields of a minicbor `#[cbor(map)]` struct: uint keys, each at most once. */
export function fieldsOf(item: CborItem, what: string): Map<number, CborItem> {
  if (item.kind !== "map") {
    throw new DecodeError("unexpected-type", `${what}: expected a map, got ${item.kind}`);
  }
  const fields = new Map<number, CborItem>();
  for (const [key, value] of item.entries) {
    const index = uintOf(key, `${what} key`, 0xffff);
    if (fields.has(index)) throw new DecodeError("duplicate-key", `${what}: key ${index} twice`);
    fields.set(index, value);
  }
  return fields;
}

/** A text field of at most `max` characters. */
export function boundedText(item: CborItem | undefined, what: string, max: number): string {
  const text = textOf(item, what);
  if (text.length > max) {
    throw new DecodeError("too-long", `${what}: ${text.length} characters, over ${max}`);
  }
  return text;
}

function boolField(item: CborItem | undefined, what: string): boolean {
  if (item?.kind !== "bool") {
    throw new DecodeError("unexpected-type", `${what}: expected a boolean`);
  }
  return item.value;
}

function withBody<H extends { hasBody: boolean }>(
  header: H,
  body: Uint8Array | undefined,
  what: string,
): Envelope<H> {
  if (header.hasBody && body === undefined) {
    throw new DecodeError("truncated", `${what}: has_body is set but no body follows`);
  }
  if (!header.hasBody && body !== undefined) {
    throw new DecodeError("trailing-bytes", `${what}: a body follows but has_body is false`);
  }
  return body === undefined ? { header } : { header, body };
}

function concat(head: Uint8Array, body: Uint8Array | undefined): Uint8Array {
  if (body === undefined) return head;
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

function wrap(bytes: Uint8Array): Uint8Array {
  return concat(encodeVarint(bytes.length), bytes);
}

function unwrap(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("expected a Uint8Array");
  if (bytes.length > MAX_ENVELOPE_SIZE + 10) {
    throw new DecodeError("too-long", `envelope of ${bytes.length} bytes`);
  }
  const { value, offset } = decodeVarint(bytes);
  if (value !== BigInt(bytes.length - offset)) {
    throw new DecodeError(
      value > BigInt(bytes.length - offset) ? "truncated" : "trailing-bytes",
      `BARE byte string of ${value} bytes in ${bytes.length - offset}`,
    );
  }
  return bytes.subarray(offset);
}

const TOKENIZER_OPTIONS = { strict: true, allowIndefinite: false, allowUndefined: false } as const;

// The header item, strictly parsed, and the rest (one strictly parsed body item), if any.
function split(bytes: Uint8Array, what: string): { header: CborItem; body?: Uint8Array } {
  const end = firstItemEnd(bytes, what);
  const header = parseCbor(bytes.subarray(0, end), what, 4);
  if (end === bytes.length) return { header };
  const body = bytes.slice(end);
  parseCbor(body, `${what} body`); // exactly one well-formed item
  return { header, body };
}

// Where the first CBOR item of `bytes` ends (each token consumes input, so this is bounded).
function firstItemEnd(bytes: Uint8Array, what: string): number {
  const tokenizer = new Tokenizer(bytes, TOKENIZER_OPTIONS);
  let remaining = 1;
  try {
    while (remaining > 0) {
      if (tokenizer.done()) throw new DecodeError("truncated", `${what}: CBOR ended early`);
      const token = tokenizer.next();
      remaining--;
      if (Type.equals(token.type, Type.array)) remaining += token.value as number;
      else if (Type.equals(token.type, Type.map)) remaining += 2 * (token.value as number);
      else if (Type.equals(token.type, Type.tag)) remaining += 1;
    }
  } catch (cause) {
    if (cause instanceof DecodeError) throw cause;
    throw new DecodeError("malformed-cbor", `${what}: not valid CBOR`, { cause });
  }
  return tokenizer.pos();
}
