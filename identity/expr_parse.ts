/**
 * Parsing Ockam's policy expression text (`ockam_abac/src/parser.rs`): S-expressions
 * `(op args…)`, sequences `[a b]`, strings, integers, floats (`1.5`, `1e3`, `inf`,
 * `nan`), `true`/`false` and identifiers such as `subject.role`; `;;` and `(; ;)`
 * comments. Several top-level values form an implicit list, and an expression must start
 * with an operator: `and or not if < > = != member? exists?`.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import { depthOption, type Expr, isI64, tooDeep } from "./expr.ts";

/** The operators an expression may start with. */
export const OPERATORS: readonly string[] = [
  "and",
  "or",
  "not",
  "if",
  "<",
  ">",
  "=",
  "!=",
  "member?",
  "exists?",
];

// Ockam's `ident_pattern()`; in its character class `+-@` is the range '+'..'@'.
const IDENT = /^[a-zA-Z!$%&*/<=>?~_^][a-zA-Z0-9!$%&*/<=>?~_^.+,\-./0-9:;<=>?@]*$/;
// WebAssembly-text number syntax, as the `wast` lexer Ockam uses.
const INT = /^[+-]?(?:[0-9](?:_?[0-9])*|0x[0-9a-fA-F](?:_?[0-9a-fA-F])*)$/;
const FLOAT =
  /^[+-]?(?:[0-9](?:_?[0-9])*)(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?$/;
const IDCHAR = /[0-9A-Za-z!#$%&'*+\-./:<=>?@\\^_`|~]/;

function fail(message: string): never {
  throw new DecodeError("bad-expression", message);
}

function atom(token: string): Expr {
  if (token === "true" || token === "false") return { type: "bool", value: token === "true" };
  if (INT.test(token)) {
    const negative = token.startsWith("-");
    const body = token.replace(/^[+-]/, "").replaceAll("_", "");
    const value = (negative ? -1n : 1n) * BigInt(body);
    if (!isI64(value)) fail(`integer out of the i64 range: ${token}`);
    return { type: "int", value };
  }
  if (/^[+-]?inf$/.test(token)) {
    return { type: "float", value: token.startsWith("-") ? -Infinity : Infinity };
  }
  if (/^[+-]?nan(?::0x[0-9a-fA-F](?:_?[0-9a-fA-F])*)?$/.test(token)) {
    return { type: "float", value: NaN };
  }
  if (
    FLOAT.test(token) && /[0-9]/.test(token[0] === "+" || token[0] === "-" ? token[1]! : token[0]!)
  ) {
    return { type: "float", value: Number(token.replaceAll("_", "")) };
  }
  const name = token.startsWith("$") && token.length > 1 ? token.slice(1) : token;
  if (!IDENT.test(name)) fail(`invalid token '${token.slice(0, 40)}'`);
  return { type: "ident", value: name };
}

const ESCAPES: Record<string, string> = {
  t: "\t",
  n: "\n",
  r: "\r",
  '"': '"',
  "'": "'",
  "\\": "\\",
  "0": "\0",
};
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Reads a string literal starting at `start` (the opening quote); returns value and end. */
function readString(text: string, start: number): { value: string; end: number } {
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      try {
        return { value: utf8.decode(new Uint8Array(bytes)), end: i + 1 };
      } catch {
        fail("string literal is not valid UTF-8");
      }
    }
    if (ch === "\n") fail("newline in string literal");
    if (ch !== "\\") {
      const cp = text.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      pushAll(bytes, encoder.encode(s));
      i += s.length;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) break;
    if (e === "u") {
      const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(text.slice(i + 2, i + 12));
      if (!m) fail("bad \\u{…} escape");
      const cp = parseInt(m[1]!, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail("bad \\u{…} code point");
      pushAll(bytes, encoder.encode(String.fromCodePoint(cp)));
      i += 2 + m[0].length;
    } else if (/^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 3;
    } else if (ESCAPES[e] !== undefined) {
      pushAll(bytes, encoder.encode(ESCAPES[e]!));
      i += 2;
    } else {
      fail(`unknown escape '\\${e}'`);
    }
  }
  return fail("unterminated string literal");
}

function pushAll(out: number[], bytes: Uint8Array): void {
  for (let k = 0; k < bytes.length; k++) out.push(bytes[k]!);
}

type Frame = { kind: "list" | "seq"; items: Expr[] };

/**
 * Parses an expression's text form; malformed text is a `DecodeError` with code
 * `bad-expression` (also for an empty expression or one not starting with an operator),
 * and nesting deeper than `maxDepth` sequences and lists (default
 * {@linkcode MAX_EXPR_DEPTH}; several top-level values count as one more list) one with
 * code `expression-too-deep`. The parser keeps its own stack, so any depth is safe to try.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseExpr, printExpr } from "@sealroute/sealroute/identity";
 * const text = '(and (= subject.role "operator") (member? subject.identifier ["Iab" "Icd"]))';
 * assert.equal(printExpr(parseExpr(text)), text);
 * assert.throws(() => parseExpr('(= subject.a "b"'), { code: "bad-expression" });
 * assert.throws(() => parseExpr('"just a string"'), { code: "bad-expression" });
 * assert.throws(() => parseExpr("(not (not true))", { maxDepth: 1 }), { code: "expression-too-deep" });
 * ```
 */
export function parseExpr(text: string, options: { maxDepth?: number } = {}): Expr {
  if (typeof text !== "string") throw new TypeError("expected the expression text");
  const maxDepth = depthOption(options);
  const top: Expr[] = [];
  const stack: Frame[] = [];
  let deepest = 0;
  const push = (e: Expr): void => {
    (stack.length > 0 ? stack[stack.length - 1]!.items : top).push(e);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (text.startsWith(";;", i)) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith("(;", i)) {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= text.length) fail("unterminated block comment");
        if (text.startsWith("(;", i)) (depth++, i += 2);
        else if (text.startsWith(";)", i)) (depth--, i += 2);
        else i++;
      }
    } else if (ch === "(" || ch === "[") {
      if (stack.length >= maxDepth) throw tooDeep(maxDepth);
      stack.push({ kind: ch === "(" ? "list" : "seq", items: [] });
      if (stack.length > deepest) deepest = stack.length;
      i++;
    } else if (ch === ")" || ch === "]") {
      const frame = stack.pop();
      const kind = ch === ")" ? "list" : "seq";
      if (frame === undefined) fail(`'${ch}' without matching '${ch === ")" ? "(" : "["}'`);
      if (frame.kind !== kind) fail(`'${ch}' closes a '${frame.kind === "list" ? "(" : "["}'`);
      if (kind === "seq") checkHomogeneous(frame.items);
      push(
        kind === "seq" ? { type: "seq", items: frame.items } : { type: "list", items: frame.items },
      );
      i++;
    } else if (ch === '"') {
      const { value, end } = readString(text, i);
      push({ type: "str", value });
      i = end;
    } else if (IDCHAR.test(ch)) {
      let j = i;
      while (j < text.length && IDCHAR.test(text[j]!)) j++;
      push(atom(text.slice(i, j)));
      i = j;
    } else {
      fail(`unexpected character '${ch}'`);
    }
  }
  if (stack.length > 0) fail(`unclosed '${stack[stack.length - 1]!.kind === "list" ? "(" : "["}'`);
  if (top.length === 0) fail("empty expression");
  // Several top-level values are an implicit list around them: one level more.
  if (top.length > 1 && deepest + 1 > maxDepth) throw tooDeep(maxDepth);
  const expr: Expr = top.length === 1 ? top[0]! : { type: "list", items: top };
  if (!isOperation(expr)) {
    fail(`an expression must start with an operation: ${OPERATORS.join(", ")}`);
  }
  return expr;
}

function isOperation(expr: Expr): boolean {
  let e: Expr | undefined = expr;
  while (e?.type === "list") e = e.items[0];
  return e?.type === "ident" && OPERATORS.includes(e.value);
}

// Ockam rejects `[a b]` whose neighbours have different types.
function checkHomogeneous(items: Expr[]): void {
  for (let k = 1; k < items.length; k++) {
    if (items[k - 1]!.type !== items[k]!.type) {
      fail(`sequence mixes ${items[k - 1]!.type} and ${items[k]!.type}`);
    }
  }
}
