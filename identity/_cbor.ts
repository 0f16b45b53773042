// Strict CBOR for the identity wire formats (OCKAM_WIRE §0.1), on top of cborg.
//
// Decoding goes through cborg's tokenizer into a typed tree that keeps each item's byte
// range, so decoders can (a) tell a float from an integer, (b) slice a nested item out of
// its parent exactly as received (signatures are checked over received bytes, never a
// re-encoding), and (c) reject anything minicbor would not have written: non-minimal
// integers and lengths, indefinite lengths, tags, `undefined`, invalid UTF-8 and trailing
// bytes. Encoding uses cborg with bytewise (BTreeMap) map-key order and 64-bit floats.
import { encode as cborgEncode, Token, Tokenizer, Type } from "cborg";
import { DecodeError } from "../errors.ts";

/** One decoded CBOR item with its byte range in the input. */
export type CborItem =
  & { start: number; end: number }
  & (
    | { kind: "uint"; value: bigint }
    | { kind: "negint"; value: bigint }
    | { kind: "bytes"; value: Uint8Array }
    | { kind: "text"; value: string }
    | { kind: "array"; items: CborItem[] }
    | { kind: "map"; entries: [CborItem, CborItem][] }
    | { kind: "float"; value: number }
    | { kind: "bool"; value: boolean }
    | { kind: "null" }
  );

const MAX_DEPTH = 128;
const DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowBigInt: true,
  allowInfinity: true,
  allowNaN: true,
} as const;
const utf8 = new TextEncoder();

/** Parses exactly one CBOR item filling `bytes`; anything else is a `DecodeError`. */
export function parseCbor(
  bytes: Uint8Array,
  what: string,
  maxDepth: number = MAX_DEPTH,
): CborItem {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected a Uint8Array`);
  }
  const tokenizer = new Tokenizer(bytes, DECODE_OPTIONS);
  let item: CborItem;
  try {
    item = readItem(tokenizer, bytes, maxDepth);
  } catch (cause) {
    if (cause instanceof DecodeError) {
      throw new DecodeError(cause.code, `${what}: ${cause.message}`);
    }
    const text = errorText(cause);
    const code = /not enough data/.test(text) ? "truncated" : "malformed-cbor";
    throw new DecodeError(code, `${what}: not valid CBOR (${text})`, { cause });
  }
  if (item.end !== bytes.length) {
    throw new DecodeError(
      "trailing-bytes",
      `${what}: ${bytes.length - item.end} unexpected bytes after the CBOR item`,
    );
  }
  return item;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^CBOR decode error: /, "").slice(0, 120);
}

type Container = Extract<CborItem, { kind: "array" } | { kind: "map" }>;
interface Open {
  item: Container;
  remaining: number;
  key?: CborItem;
}

// Iterative (an explicit stack of open containers), so deep nesting cannot exhaust the
// JS stack; `maxDepth` bounds the number of open containers.
function readItem(tokenizer: Tokenizer, data: Uint8Array, maxDepth: number): CborItem {
  const stack: Open[] = [];
  for (;;) {
    if (tokenizer.done()) throw new DecodeError("truncated", "CBOR ended early");
    const start = tokenizer.pos();
    const token: Token = tokenizer.next();
    let done: CborItem;
    if (Type.equals(token.type, Type.array) || Type.equals(token.type, Type.map)) {
      const isArray = Type.equals(token.type, Type.array);
      const container: Container = isArray
        ? { kind: "array", items: [], start, end: -1 }
        : { kind: "map", entries: [], start, end: -1 };
      const remaining = (token.value as number) * (isArray ? 1 : 2);
      if (remaining > 0) {
        if (stack.length >= maxDepth) {
          throw new DecodeError("too-deep", "CBOR nested too deeply");
        }
        stack.push({ item: container, remaining });
        continue;
      }
      container.end = tokenizer.pos();
      done = container;
    } else {
      done = leaf(token, data, start, tokenizer.pos());
    }
    // Attach the finished item to its parent; close every container it completes.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) return done;
      if (top.item.kind === "array") {
        top.item.items.push(done);
      } else if (top.key === undefined) {
        top.key = done;
      } else {
        top.item.entries.push([top.key, done]);
        delete top.key;
      }
      if (--top.remaining > 0) break;
      stack.pop();
      top.item.end = tokenizer.pos();
      done = top.item;
    }
  }
}

function leaf(token: Token, data: Uint8Array, start: number, end: number): CborItem {
  const type = token.type;
  if (Type.equals(type, Type.uint)) {
    return { kind: "uint", value: BigInt(token.value), start, end };
  }
  if (Type.equals(type, Type.negint)) {
    return { kind: "negint", value: BigInt(token.value), start, end };
  }
  if (Type.equals(type, Type.bytes)) {
    return { kind: "bytes", value: token.value as Uint8Array, start, end };
  }
  if (Type.equals(type, Type.string)) {
    const value = token.value as string;
    checkUtf8(data, start, end, value);
    return { kind: "text", value, start, end };
  }
  if (Type.equals(type, Type.float)) {
    return { kind: "float", value: token.value as number, start, end };
  }
  if (Type.equals(type, Type.true) || Type.equals(type, Type.false)) {
    return { kind: "bool", value: token.value as boolean, start, end };
  }
  if (Type.equals(type, Type.null)) return { kind: "null", start, end };
  throw new DecodeError("unsupported-cbor", `unsupported CBOR item (${type.name})`);
}

// cborg decodes text leniently (U+FFFD for bad sequences); minicbor rejects invalid UTF-8.
function checkUtf8(data: Uint8Array, start: number, end: number, value: string): void {
  const encoded = utf8.encode(value);
  const header = end - start - encoded.length;
  const expectedHeader = encoded.length < 24
    ? 1
    : encoded.length < 0x100
    ? 2
    : encoded.length < 0x10000
    ? 3
    : encoded.length < 0x100000000
    ? 5
    : 9;
  if (header !== expectedHeader) throw new DecodeError("bad-utf8", "text is not valid UTF-8");
  const raw = data.subarray(start + header, end);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== encoded[i]) throw new DecodeError("bad-utf8", "text is not valid UTF-8");
  }
}

// ---- narrowing helpers: each failure is a DecodeError naming the field ----

/** The items of an array of `min`..`max` elements. */
export function arrayOf(item: CborItem, what: string, min: number, max = min): CborItem[] {
  if (item.kind !== "array") throw shape(what, "an array", item);
  if (item.items.length < min || item.items.length > max) {
    throw new DecodeError(
      "bad-length",
      `${what}: expected ${min === max ? min : `${min}-${max}`} elements, got ${item.items.length}`,
    );
  }
  return item.items;
}

/** A byte string, optionally of exactly `length` bytes. */
export function bytesOf(item: CborItem | undefined, what: string, length?: number): Uint8Array {
  if (item?.kind !== "bytes") throw shape(what, "a byte string", item);
  if (length !== undefined && item.value.length !== length) {
    throw new DecodeError(
      "bad-length",
      `${what}: expected ${length} bytes, got ${item.value.length}`,
    );
  }
  return item.value;
}

/** An unsigned integer no larger than `max` (at most 2^53 - 1) as a number. */
export function uintOf(
  item: CborItem | undefined,
  what: string,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (item?.kind !== "uint") throw shape(what, "an unsigned integer", item);
  if (item.value > BigInt(max)) {
    throw new DecodeError("out-of-range", `${what}: ${item.value} is larger than ${max}`);
  }
  return Number(item.value);
}

/** A boolean. */
export function boolOf(item: CborItem | undefined, what: string): boolean {
  if (item?.kind !== "bool") throw shape(what, "a boolean", item);
  return item.value;
}

/** A text string. */
export function textOf(item: CborItem | undefined, what: string): string {
  if (item?.kind !== "text") throw shape(what, "a text string", item);
  return item.value;
}

/** `undefined` when the item is absent (a trailing optional) or `null`. */
export function isAbsent(item: CborItem | undefined): item is undefined {
  return item === undefined || item.kind === "null";
}

/** The variant index and fields of a minicbor enum `[index, [fields...]]`. */
export function enumOf(
  item: CborItem | undefined,
  what: string,
): { index: number; fields: CborItem[] } {
  if (item === undefined) throw shape(what, "an enum", item);
  const [index, fields] = arrayOf(item, what, 2);
  return {
    index: uintOf(index, `${what} variant`, 0xffff),
    fields: arrayOf(fields!, `${what} fields`, 0, Number.MAX_SAFE_INTEGER),
  };
}

function shape(what: string, expected: string, item: CborItem | undefined): DecodeError {
  return new DecodeError(
    "unexpected-type",
    `${what}: expected ${expected}, got ${item ? item.kind : "nothing"}`,
  );
}

// ---- encoding ----

/** A value that encodes as a 64-bit float even when integral (minicbor's `f64`). */
export class F64 {
  /** The number. */
  readonly value: number;
  /** Wraps `value`. */
  constructor(value: number) {
    this.value = value;
  }
}

/** A JS value cborg encodes: bytes, text, safe integers, bigint, bool, null, arrays, Maps. */
export type CborValue =
  | Uint8Array
  | string
  | number
  | bigint
  | boolean
  | null
  | F64
  | CborValue[]
  | Map<CborValue, CborValue>;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function keyBytes(entry: (Token | Token[])[]): Uint8Array {
  const token = Array.isArray(entry[0]) ? entry[0][0] : entry[0];
  const value: unknown = token?.value;
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return utf8.encode(value);
  throw new TypeError("map keys must be byte or text strings");
}

// BTreeMap<Vec<u8>, _> order: bytewise lexicographic, a prefix before its extensions.
// (cborg's default sorter is length-first, RFC 7049 canonical order.)
function bytewiseMapSorter(e1: (Token | Token[])[], e2: (Token | Token[])[]): number {
  return compareBytes(keyBytes(e1), keyBytes(e2));
}

const ENCODE_OPTIONS = {
  float64: true,
  mapSorter: bytewiseMapSorter,
  typeEncoders: {
    Object: (value: unknown): Token | null =>
      value instanceof F64 ? new Token(Type.float, value.value) : null,
  },
};

/** Definite-length CBOR of `value`, maps in bytewise key order, floats as f64. */
export function encodeCbor(value: CborValue): Uint8Array {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new TypeError("only safe integers may be encoded as plain numbers");
  }
  // cborg hands out a Node `Buffer` where one exists; we promise plain Uint8Arrays.
  return new Uint8Array(cborgEncode(value, ENCODE_OPTIONS));
}

/** A CBOR array header for `length` items, to splice pre-encoded items after it. */
export function arrayHeader(length: number): Uint8Array {
  // Encoding an array of `length` nulls and keeping the header bytes is simplest and
  // guarantees the same header form cborg (and minicbor) use.
  const encoded = cborgEncode(new Array(length).fill(null));
  return new Uint8Array(encoded.subarray(0, encoded.length - length));
}
