/**
 * Ockam's policy expressions (OCKAM_WIRE §8.2, `ockam_abac`): the `Expr` data type, its
 * CBOR encoding (`[variant, [field]]`, variants 1 Str, 2 Int, 3 Float, 4 Bool, 5 Ident,
 * 6 Seq, 7 List) and its S-expression text form.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import {
  arrayHeader,
  arrayOf,
  type CborItem,
  type CborValue,
  encodeCbor,
  enumOf,
  F64,
  parseCbor,
  textOf,
} from "./_cbor.ts";

/** A policy expression as plain data. `int` is an i64 held as a `bigint`. */
export type Expr =
  | { type: "str"; value: string }
  | { type: "int"; value: bigint }
  | { type: "float"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "ident"; value: string }
  | { type: "seq"; items: Expr[] }
  | { type: "list"; items: Expr[] };

/**
 * Default deepest nesting of sequences and lists accepted when parsing, decoding or
 * evaluating an expression: 64. Each call takes `{ maxDepth }` to change it; deeper input
 * is a `DecodeError` (parse, decode) or `TrustError` (evaluation) with code
 * `expression-too-deep`, never a stack overflow. Real policies nest a few levels; Ockam's
 * own stress test nests about 1400 deep and needs `{ maxDepth: 2048 }`.
 */
export const MAX_EXPR_DEPTH = 64;

/** Internal: the `expression-too-deep` error of parsing and decoding. */
export function tooDeep(maxDepth: number): DecodeError {
  return new DecodeError(
    "expression-too-deep",
    `expected an expression nested at most ${maxDepth} deep`,
  );
}

/** Internal: a `maxDepth` option checked (a non-negative integer) or the default. */
export function depthOption(options: { maxDepth?: number } | undefined): number {
  const maxDepth = options?.maxDepth ?? MAX_EXPR_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    throw new RangeError(`maxDepth must be a non-negative integer, got ${maxDepth}`);
  }
  return maxDepth;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Whether `value` fits Rust's `i64`. */
export function isI64(value: bigint): boolean {
  return value >= I64_MIN && value <= I64_MAX;
}

const VARIANT = { str: 1, int: 2, float: 3, bool: 4, ident: 5, seq: 6, list: 7 } as const;

function scalarToCbor(expr: Exclude<Expr, { type: "seq" | "list" }>): CborValue {
  switch (expr.type) {
    case "str":
    case "ident":
      return [VARIANT[expr.type], [String(expr.value)]];
    case "int":
      if (typeof expr.value !== "bigint" || !isI64(expr.value)) {
        throw new RangeError("an int expression is a bigint in the i64 range");
      }
      return [VARIANT.int, [expr.value]];
    case "float":
      return [VARIANT.float, [new F64(Number(expr.value))]];
    case "bool":
      return [VARIANT.bool, [Boolean(expr.value)]];
    default:
      throw new TypeError(`unknown expression type '${String((expr as { type: unknown }).type)}'`);
  }
}

/**
 * CBOR of an expression, byte-compatible with Ockam's minicbor encoding (floats always
 * as 64-bit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeExpr } from "@sealroute/sealroute/identity";
 * // Ockam's migration_20240111100002 test: `true`
 * assert.deepEqual(encodeExpr({ type: "bool", value: true }), new Uint8Array([0x82, 0x04, 0x81, 0xf5]));
 * ```
 */
export function encodeExpr(expr: Expr): Uint8Array {
  // Built piece by piece with an explicit stack (cborg's encoder recurses per level), so
  // any depth encodes; memory is linear in the expression's size.
  const parts: Uint8Array[] = [];
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next.type === "seq" || next.type === "list") {
      // [variant, [[items...]]]
      parts.push(
        arrayHeader(2),
        encodeCbor(VARIANT[next.type]),
        arrayHeader(1),
        arrayHeader(next.items.length),
      );
      for (let i = next.items.length - 1; i >= 0; i--) stack.push(next.items[i]!);
    } else {
      parts.push(encodeCbor(scalarToCbor(next)));
    }
  }
  return join(parts);
}

// `concat(...parts)` would pass every part as an argument: too many for a large expression.
function join(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// A sequence or list whose items are still being converted.
interface Pending {
  type: "seq" | "list";
  items: readonly CborItem[];
  out: Expr[];
}

// One item's expression: a scalar, or a container whose items are converted later.
function exprOf(item: CborItem): Expr | Pending {
  const { index, fields } = enumOf(item, "Expr");
  if (fields.length !== 1) {
    throw new DecodeError("bad-length", `Expr: expected 1 field, got ${fields.length}`);
  }
  const field = fields[0]!;
  switch (index) {
    case 1:
      return { type: "str", value: textOf(field, "Str") };
    case 2:
      if ((field.kind !== "uint" && field.kind !== "negint") || !isI64(field.value)) {
        throw new DecodeError("unexpected-type", "Int: expected an i64");
      }
      return { type: "int", value: field.value };
    case 3:
      if (field.kind !== "float") {
        throw new DecodeError("unexpected-type", "Float: expected a float");
      }
      return { type: "float", value: field.value };
    case 4:
      if (field.kind !== "bool") throw new DecodeError("unexpected-type", "Bool: expected a bool");
      return { type: "bool", value: field.value };
    case 5:
      return { type: "ident", value: textOf(field, "Ident") };
    case 6:
    case 7:
      return {
        type: index === 6 ? "seq" : "list",
        items: arrayOf(field, index === 6 ? "Seq" : "List", 0, Number.MAX_SAFE_INTEGER),
        out: [],
      };
    default:
      throw new DecodeError("unknown-variant", `Expr: unknown variant ${index}`);
  }
}

// Iterative (an explicit stack of open containers, at most `maxDepth`), so no input can
// exhaust the JS stack.
function fromItem(root: CborItem, maxDepth: number): Expr {
  const first = exprOf(root);
  if (!("out" in first)) return first;
  if (maxDepth < 1) throw tooDeep(maxDepth);
  const stack: Pending[] = [first];
  for (;;) {
    const top = stack[stack.length - 1]!;
    if (top.out.length === top.items.length) {
      stack.pop();
      const done: Expr = { type: top.type, items: top.out };
      if (stack.length === 0) return done;
      stack[stack.length - 1]!.out.push(done);
      continue;
    }
    const next = exprOf(top.items[top.out.length]!);
    if ("out" in next) {
      if (stack.length >= maxDepth) throw tooDeep(maxDepth);
      stack.push(next);
    } else {
      top.out.push(next);
    }
  }
}

/**
 * Decodes an expression's CBOR; malformed bytes are a `DecodeError`, and so is nesting
 * deeper than `maxDepth` sequences and lists (default {@linkcode MAX_EXPR_DEPTH}, code
 * `expression-too-deep`), checked while the CBOR is read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeExpr, printExpr } from "@sealroute/sealroute/identity";
 * const hex = "82078183820581613d82058178187375626a6563742e74727573745f636f6e746578745f6964820181782461393934323632632d346435392d343735362d613135382d313964623639393466656564";
 * const expr = decodeExpr(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)));
 * assert.equal(printExpr(expr), '(= subject.trust_context_id "a994262c-4d59-4756-a158-19db6994feed")');
 * // A list holding a list: two levels, more than `maxDepth: 1` allows.
 * const nested = Uint8Array.from([0x82, 0x07, 0x81, 0x81, 0x82, 0x07, 0x81, 0x80]);
 * assert.throws(() => decodeExpr(nested, { maxDepth: 1 }), { code: "expression-too-deep" });
 * ```
 */
export function decodeExpr(bytes: Uint8Array, options: { maxDepth?: number } = {}): Expr {
  const maxDepth = depthOption(options);
  // Each expression level is three CBOR levels ([variant, [[items]]]), a scalar two.
  let item: CborItem;
  try {
    item = parseCbor(bytes, "Expr", 3 * maxDepth + 2);
  } catch (error) {
    if (error instanceof DecodeError && error.code === "too-deep") throw tooDeep(maxDepth);
    throw error;
  }
  return fromItem(item, maxDepth);
}

function escapeString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c === 0) out += "\\0";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/** Rust's `{:?}` of an `f64`: shortest round-trip digits, exponent outside [1e-4, 1e16). */
function formatFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "+inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const abs = Math.abs(x);
  if (abs >= 1e-4 && abs < 1e16) {
    const s = String(x);
    return s.includes(".") ? s : s + ".0";
  }
  return x.toExponential().replace("e+", "e");
}

/**
 * The text form of an expression, as Ockam's `Display`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printExpr } from "@sealroute/sealroute/identity";
 * const expr = {
 *   type: "list" as const,
 *   items: [
 *     { type: "ident" as const, value: "member?" },
 *     { type: "ident" as const, value: "subject.role" },
 *     { type: "seq" as const, items: [{ type: "str" as const, value: "a" }, { type: "str" as const, value: "b" }] },
 *   ],
 * };
 * assert.equal(printExpr(expr), '(member? subject.role ["a" "b"])');
 * ```
 */
export function printExpr(expr: Expr): string {
  const out: string[] = [];
  // An explicit stack, as Ockam's, so very deep expressions do not exhaust the JS stack.
  const stack: (Expr | string)[] = [expr];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (typeof next === "string") {
      out.push(next);
      continue;
    }
    switch (next.type) {
      case "str":
        out.push(escapeString(next.value));
        break;
      case "int":
        out.push(next.value.toString());
        break;
      case "float":
        out.push(formatFloat(next.value));
        break;
      case "bool":
        out.push(next.value ? "true" : "false");
        break;
      case "ident":
        out.push(next.value);
        break;
      case "seq":
      case "list": {
        out.push(next.type === "seq" ? "[" : "(");
        stack.push(next.type === "seq" ? "]" : ")");
        for (let i = next.items.length - 1; i >= 0; i--) {
          stack.push(next.items[i]!);
          if (i > 0) stack.push(" ");
        }
        break;
      }
      default:
        throw new TypeError(
          `unknown expression type '${String((next as { type: unknown }).type)}'`,
        );
    }
  }
  return out.join("");
}
