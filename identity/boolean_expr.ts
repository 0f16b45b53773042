/**
 * Ockam's simple boolean policy syntax (`ockam_abac/src/boolean_expr.rs`):
 * `a and (b or not c)`, where each name `n` means `(= subject.n "true")`. `not` binds
 * tighter than `and`, `and` tighter than `or`.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import { depthOption, type Expr, tooDeep } from "./expr.ts";
import { parseExpr } from "./expr_parse.ts";

/** A boolean expression over attribute names. */
export type BooleanExpr =
  | { type: "name"; name: string }
  | { type: "and"; left: BooleanExpr; right: BooleanExpr }
  | { type: "or"; left: BooleanExpr; right: BooleanExpr }
  | { type: "not"; expr: BooleanExpr };

const NAME = /[A-Za-z_-][A-Za-z0-9._-]*/y;
const KEYWORDS = new Set(["and", "or", "not"]);

function fail(message: string): never {
  throw new DecodeError("bad-expression", message);
}

// An operand with its depth: a name is 1 (it stands for the list `(= subject.n "true")`),
// an operator one more than its deepest operand, so the depth is that of the translation.
interface Operand {
  expr: BooleanExpr;
  depth: number;
}

type Operator = "(" | "not" | "and" | "or";

/**
 * Parses the boolean syntax; malformed text is a `DecodeError` `bad-expression`, and an
 * expression whose translation ({@linkcode booleanExprToExpr}) would nest deeper than
 * `maxDepth` (default {@linkcode MAX_EXPR_DEPTH}) one with code `expression-too-deep`.
 * The parser keeps its own stacks (operator precedence), so any input is safe to try.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBooleanExpr, printBooleanExpr } from "@sealroute/sealroute/identity";
 * const b = parseBooleanExpr("a and (b or not c)");
 * assert.equal(printBooleanExpr(b), "a and (b or (not c))");
 * assert.throws(() => parseBooleanExpr("a and"), { code: "bad-expression" });
 * assert.throws(() => parseBooleanExpr("a and b", { maxDepth: 1 }), { code: "expression-too-deep" });
 * ```
 */
export function parseBooleanExpr(
  text: string,
  options: { maxDepth?: number } = {},
): BooleanExpr {
  if (typeof text !== "string") throw new TypeError("expected the expression text");
  const maxDepth = depthOption(options);
  const operands: Operand[] = [];
  const operators: Operator[] = [];
  const reduce = (): void => {
    const op = operators.pop()!;
    if (op === "not") {
      const inner = operands.pop()!;
      operands.push(node({ type: "not", expr: inner.expr }, inner.depth));
    } else if (op === "and" || op === "or") {
      const right = operands.pop()!;
      const left = operands.pop()!;
      const depth = Math.max(left.depth, right.depth);
      operands.push(node({ type: op, left: left.expr, right: right.expr }, depth));
    }
  };
  const node = (expr: BooleanExpr, inner: number): Operand => {
    if (inner + 1 > maxDepth) throw tooDeep(maxDepth);
    return { expr, depth: inner + 1 };
  };
  // Binding strength of the operators still open: `not` > `and` > `or`; `(` is a wall.
  const strength = (op: Operator): number =>
    op === "not" ? 3 : op === "and" ? 2 : op === "or" ? 1 : 0;
  let expectOperand = true;
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    let token: string | undefined;
    if (i < text.length) {
      const ch = text[i]!;
      if (ch === "(" || ch === ")") token = ch;
      else {
        NAME.lastIndex = i;
        const m = NAME.exec(text);
        if (!m) fail(`unexpected character '${ch}' (names are letters, digits, '.', '_', '-')`);
        token = m[0];
      }
      i += token.length;
    }
    if (expectOperand) {
      if (token === "(" || token === "not") operators.push(token);
      else if (token !== undefined && token !== ")" && !KEYWORDS.has(token)) {
        if (1 > maxDepth) throw tooDeep(maxDepth);
        operands.push({ expr: { type: "name", name: token }, depth: 1 });
        expectOperand = false;
      } else {
        fail(token === undefined ? "unexpected end of expression" : `unexpected '${token}'`);
      }
      continue;
    }
    if (token === "and" || token === "or") {
      // Left-associative: first apply every open operator binding at least as tightly.
      while (operators.length > 0 && strength(operators.at(-1)!) >= strength(token)) reduce();
      operators.push(token);
      expectOperand = true;
    } else if (token === ")") {
      while (operators.length > 0 && operators.at(-1) !== "(") reduce();
      if (operators.pop() !== "(") fail("unexpected ')'");
    } else if (token === undefined) {
      while (operators.length > 0) {
        if (operators.at(-1) === "(") fail("expected ')'");
        reduce();
      }
      return operands[0]!.expr;
    } else {
      fail(`unexpected '${token}'`);
    }
  }
}

// Text of `b`, every sub-expression parenthesised; iterative, so a deep expression built
// in code prints too.
function print(b: BooleanExpr): string {
  const out: string[] = [];
  const stack: (BooleanExpr | string)[] = [b];
  let top = true;
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (typeof next === "string") {
      out.push(next);
      continue;
    }
    const wrap = !top && next.type !== "name";
    top = false;
    switch (next.type) {
      case "name":
        out.push(next.name);
        break;
      case "not":
        out.push(wrap ? "(not " : "not ");
        if (wrap) stack.push(")");
        stack.push(next.expr);
        break;
      case "and":
      case "or":
        if (wrap) out.push("(");
        if (wrap) stack.push(")");
        stack.push(next.right, ` ${next.type} `, next.left);
        break;
      default:
        throw new TypeError(
          `unknown boolean expression type '${String((next as { type: unknown }).type)}'`,
        );
    }
  }
  return out.join("");
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
  return print(b);
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
  const op = (name: string, items: Expr[]): Expr => ({
    type: "list",
    items: [{ type: "ident", value: name }, ...items],
  });
  // Post-order with an explicit stack: a node is translated once its operands are.
  const done: Expr[] = [];
  const stack: [BooleanExpr, boolean][] = [[b, false]];
  while (stack.length > 0) {
    const [next, ready] = stack.pop()!;
    switch (next.type) {
      case "name":
        done.push(
          op("=", [{ type: "ident", value: `subject.${next.name}` }, {
            type: "str",
            value: "true",
          }]),
        );
        break;
      case "not":
        if (ready) done.push(op("not", [done.pop()!]));
        else stack.push([next, true], [next.expr, false]);
        break;
      case "and":
      case "or":
        if (ready) {
          const right = done.pop()!;
          const left = done.pop()!;
          done.push(op(next.type, [left, right]));
        } else {
          stack.push([next, true], [next.right, false], [next.left, false]);
        }
        break;
      default:
        throw new TypeError(
          `unknown boolean expression type '${String((next as { type: unknown }).type)}'`,
        );
    }
  }
  return done[0]!;
}

/**
 * Parses a policy as Ockam's `PolicyExpression`: first as the boolean syntax, then as a
 * full expression; text that is neither is a `DecodeError` `bad-expression`, and one
 * nested deeper than `maxDepth` (default {@linkcode MAX_EXPR_DEPTH}) a `DecodeError`
 * `expression-too-deep`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePolicyText, printExpr } from "@sealroute/sealroute/identity";
 * assert.equal(printExpr(parsePolicyText("admin")), '(= subject.admin "true")');
 * assert.equal(printExpr(parsePolicyText("(= subject.x 1)")), "(= subject.x 1)");
 * ```
 */
export function parsePolicyText(text: string, options: { maxDepth?: number } = {}): Expr {
  try {
    return booleanExprToExpr(parseBooleanExpr(text, options));
  } catch (first) {
    if (!(first instanceof DecodeError)) throw first;
    try {
      return parseExpr(text, options);
    } catch (second) {
      if (!(second instanceof DecodeError)) throw second;
      if (first.code === "expression-too-deep") throw first;
      if (second.code === "expression-too-deep") throw second;
      throw new DecodeError(
        "bad-expression",
        `neither a boolean expression (${first.message}) nor a full expression (${second.message})`,
      );
    }
  }
}
