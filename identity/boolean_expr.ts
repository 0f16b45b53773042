/**
 * Ockam's simple boolean policy syntax (`ockam_abac/src/boolean_expr.rs`):
 * `a and (b or not c)`, where each name `n` means `(= subject.n "true")`. `not` binds
 * tighter than `and`, `and` tighter than `or`.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import type { Expr } from "./expr.ts";
import { parseExpr } from "./expr_parse.ts";

/** A boolean expression over attribute names. */
export type BooleanExpr =
  | { type: "name"; name: string }
  | { type: "and"; left: BooleanExpr; right: BooleanExpr }
  | { type: "or"; left: BooleanExpr; right: BooleanExpr }
  | { type: "not"; expr: BooleanExpr };

const NAME = /^[A-Za-z_-][A-Za-z0-9._-]*/;
const KEYWORDS = new Set(["and", "or", "not"]);

function fail(message: string): never {
  throw new DecodeError("bad-expression", message);
}

/**
 * Parses the boolean syntax; malformed text is a `DecodeError` `bad-expression`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooleanExpr, printBooleanExpr } from "@sealroute/sealroute/identity";
 * const b = parseBooleanExpr("a and (b or not c)");
 * assert.equal(printBooleanExpr(b), "a and (b or (not c))");
 * assert.throws(() => parseBooleanExpr("a and"), { code: "bad-expression" });
 * ```
 */
export function parseBooleanExpr(text: string): BooleanExpr {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) i++;
    else if (ch === "(" || ch === ")") (tokens.push(ch), i++);
    else {
      const m = NAME.exec(text.slice(i));
      if (!m) fail(`unexpected character '${ch}' (names are letters, digits, '.', '_', '-')`);
      tokens.push(m[0]);
      i += m[0].length;
    }
  }
  let pos = 0;
  let depth = 0;
  const peek = (): string | undefined => tokens[pos];
  const orExpr = (): BooleanExpr => {
    let left = andExpr();
    while (peek() === "or") {
      pos++;
      left = { type: "or", left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): BooleanExpr => {
    let left = notExpr();
    while (peek() === "and") {
      pos++;
      left = { type: "and", left, right: notExpr() };
    }
    return left;
  };
  const notExpr = (): BooleanExpr => {
    if (++depth > 512) fail("expression nested too deeply");
    const token = tokens[pos++];
    let result: BooleanExpr;
    if (token === "not") result = { type: "not", expr: notExpr() };
    else if (token === "(") {
      result = orExpr();
      if (tokens[pos++] !== ")") fail("expected ')'");
    } else if (token !== undefined && token !== ")" && !KEYWORDS.has(token)) {
      result = { type: "name", name: token };
    } else fail(token === undefined ? "unexpected end of expression" : `unexpected '${token}'`);
    depth--;
    return result;
  };
  const result = orExpr();
  if (pos !== tokens.length) fail(`unexpected '${tokens[pos]}'`);
  return result;
}

function nested(b: BooleanExpr): string {
  switch (b.type) {
    case "name":
      return b.name;
    case "not":
      return `(not ${nested(b.expr)})`;
    default:
      return `(${nested(b.left)} ${b.type} ${nested(b.right)})`;
  }
}

/**
 * The text of a boolean expression, as Ockam's `Display`: sub-expressions parenthesised.
 * (Ockam parenthesises only one level deep, so `a and (b or c)` nested inside another
 * operator prints ambiguously there; here every level is parenthesised, so the text
 * always parses back to the same expression.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printBooleanExpr } from "@sealroute/sealroute/identity";
 * const a = { type: "name" as const, name: "a" };
 * assert.equal(printBooleanExpr({ type: "not", expr: a }), "not a");
 * ```
 */
export function printBooleanExpr(b: BooleanExpr): string {
  switch (b.type) {
    case "name":
      return b.name;
    case "not":
      return `not ${nested(b.expr)}`;
    case "and":
    case "or":
      return `${nested(b.left)} ${b.type} ${nested(b.right)}`;
    default:
      throw new TypeError(
        `unknown boolean expression type '${String((b as { type: unknown }).type)}'`,
      );
  }
}

/**
 * The full expression a boolean expression stands for: each name `n` becomes
 * `(= subject.n "true")`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { booleanExprToExpr, parseBooleanExpr, printExpr } from "@sealroute/sealroute/identity";
 * const expr = booleanExprToExpr(parseBooleanExpr("admin or not guest"));
 * assert.equal(printExpr(expr), '(or (= subject.admin "true") (not (= subject.guest "true")))');
 * ```
 */
export function booleanExprToExpr(b: BooleanExpr): Expr {
  const op = (name: string, ...items: Expr[]): Expr => ({
    type: "list",
    items: [{ type: "ident", value: name }, ...items],
  });
  switch (b.type) {
    case "name":
      return op("=", { type: "ident", value: `subject.${b.name}` }, { type: "str", value: "true" });
    case "not":
      return op("not", booleanExprToExpr(b.expr));
    default:
      return op(b.type, booleanExprToExpr(b.left), booleanExprToExpr(b.right));
  }
}

/**
 * Parses a policy as Ockam's `PolicyExpression`: first as the boolean syntax, then as a
 * full expression; text that is neither is a `DecodeError` `bad-expression`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePolicyText, printExpr } from "@sealroute/sealroute/identity";
 * assert.equal(printExpr(parsePolicyText("admin")), '(= subject.admin "true")');
 * assert.equal(printExpr(parsePolicyText("(= subject.x 1)")), "(= subject.x 1)");
 * ```
 */
export function parsePolicyText(text: string): Expr {
  try {
    return booleanExprToExpr(parseBooleanExpr(text));
  } catch (first) {
    if (!(first instanceof DecodeError)) throw first;
    try {
      return parseExpr(text);
    } catch (second) {
      if (!(second instanceof DecodeError)) throw second;
      throw new DecodeError(
        "bad-expression",
        `neither a boolean expression (${first.message}) nor a full expression (${second.message})`,
      );
    }
  }
}
