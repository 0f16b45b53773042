/**
 * Evaluating policy expressions (`ockam_abac/src/eval.rs`) and Ockam's ABAC check: the
 * subject's identifier and credential attributes become `subject.identifier` and
 * `subject.<name>` string bindings, and the policy allows access when it evaluates to
 * `true` (any error or non-boolean result denies).
 *
 * @module
 */
import { TrustError } from "../errors.ts";
import type { Expr } from "./expr.ts";
import { depthOption, printExpr } from "./expr.ts";
import { parsePolicyText } from "./boolean_expr.ts";

/** Variable bindings for {@linkcode evalExpr}. */
export type Env = Readonly<Record<string, Expr>>;

const MAX_STEPS = 1_000_000;

function evalError(message: string): never {
  throw new TrustError("policy-evaluation-failed", message);
}

function describe(e: Expr): string {
  return printExpr(e).slice(0, 60);
}

function compareCodePoints(a: string, b: string): number {
  // Rust compares Strings bytewise (UTF-8), which orders by code point.
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function mismatch(a: Expr, b: Expr): never {
  return evalError(`type mismatch: ${describe(a)} vs ${describe(b)}`);
}

/**
 * Ockam's `Expr::equals`: structural equality; different types are an error. Depth first,
 * left to right, with its own stack (values may nest as deep as `maxDepth` allows).
 */
function equals(left: Expr, right: Expr): boolean {
  const stack: [Expr, Expr][] = [[left, right]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (a.type !== b.type) mismatch(a, b);
    if (a.type === "seq" || a.type === "list") {
      const items = (b as typeof a).items;
      if (a.items.length !== items.length) return false;
      for (let i = items.length - 1; i >= 0; i--) stack.push([a.items[i]!, items[i]!]);
    } else if (a.value !== (b as typeof a).value) {
      return false;
    }
  }
  return true;
}

/** Ockam's `Expr::compare`: an ordering, `undefined` when unordered (NaN). */
function compare(left: Expr, right: Expr): number | undefined {
  const stack: [Expr, Expr][] = [[left, right]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (a.type !== b.type) mismatch(a, b);
    let c: number | undefined;
    switch (a.type) {
      case "str":
      case "ident":
        c = Math.sign(compareCodePoints(a.value, (b as typeof a).value));
        break;
      case "int":
      case "float":
      case "bool": {
        const x = a.value;
        const y = (b as typeof a).value;
        c = x < y ? -1 : x > y ? 1 : x === y ? 0 : undefined;
        break;
      }
      case "seq":
      case "list": {
        const items = (b as typeof a).items;
        if (a.items.length !== items.length) return a.items.length < items.length ? -1 : 1;
        for (let i = items.length - 1; i >= 0; i--) stack.push([a.items[i]!, items[i]!]);
        c = 0;
      }
    }
    if (c !== 0) return c;
  }
  return 0;
}

function asBool(e: Expr, op: string): boolean {
  if (e.type !== "bool") evalError(`'${op}' expects boolean arguments, got ${describe(e)}`);
  return e.value;
}

// The evaluator's control stack (as Ockam's `eval.rs`): an expression to evaluate, or an
// operation that consumes values the evaluations before it left on the value stack.
type Op =
  | { op: "eval"; expr: Expr; depth: number; chain: number }
  | { op: "seq"; count: number }
  | { op: "and" | "or"; args: readonly Expr[]; next: number; depth: number }
  | { op: "not" }
  | { op: "if"; then: Expr; otherwise: Expr; depth: number }
  | { op: "<" | ">" | "=" | "!="; count: number }
  | { op: "member?" };

const TRUE: Expr = { type: "bool", value: true };
const FALSE: Expr = { type: "bool", value: false };
const bool = (value: boolean): Expr => value ? TRUE : FALSE;

/**
 * Evaluates `expr` in `env` with Ockam's semantics: identifiers are looked up, `and`/`or`
 * short-circuit, `=`/`<`/`>` compare neighbouring arguments, `!=` negates `=`,
 * `member?` searches a sequence, `exists?` tests bindings, `if` branches. An unbound
 * identifier, unknown operator, wrong arity or type mismatch is a `TrustError` with code
 * `policy-evaluation-failed`; nesting deeper than `maxDepth` (default
 * {@linkcode MAX_EXPR_DEPTH}, also the longest chain of identifiers bound to identifiers)
 * one with code `expression-too-deep`. The evaluator keeps its own stacks, so no
 * expression exhausts the JS stack; work is bounded by a million steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evalExpr, parseExpr } from "@sealroute/sealroute/identity";
 * const result = evalExpr(parseExpr("(< 1 2 3)"), {});
 * assert.deepEqual(result, { type: "bool", value: true });
 * assert.throws(() => evalExpr(parseExpr("(= x 1)"), {}), { code: "policy-evaluation-failed" });
 * assert.throws(() => evalExpr(parseExpr("(not (not true))"), {}, { maxDepth: 1 }), {
 *   code: "expression-too-deep",
 * });
 * ```
 */
export function evalExpr(expr: Expr, env: Env, options: { maxDepth?: number } = {}): Expr {
  const maxDepth = depthOption(options);
  const ctrl: Op[] = [{ op: "eval", expr, depth: 0, chain: 0 }];
  const values: Expr[] = [];
  let steps = 0;
  const pop = (count: number): Expr[] => values.splice(values.length - count, count);
  while (ctrl.length > 0) {
    if (++steps > MAX_STEPS) evalError("expression too large to evaluate");
    const x = ctrl.pop()!;
    switch (x.op) {
      case "eval":
        evalOne(x.expr, x.depth, x.chain);
        break;
      case "seq":
        values.push({ type: "seq", items: pop(x.count) });
        break;
      case "and":
      case "or": {
        // After argument `next - 1`: stop on false (and) / true (or), else go on; the
        // last argument's value is the result as is, as in Ockam.
        const stopOn = x.op === "or";
        if (asBool(values.pop()!, x.op) === stopOn) {
          values.push(bool(stopOn));
        } else {
          if (x.next < x.args.length - 1) ctrl.push({ ...x, next: x.next + 1 });
          ctrl.push({ op: "eval", expr: x.args[x.next]!, depth: x.depth, chain: 0 });
        }
        break;
      }
      case "not":
        values.push(bool(!asBool(values.pop()!, "not")));
        break;
      case "if": {
        const branch = asBool(values.pop()!, "if") ? x.then : x.otherwise;
        ctrl.push({ op: "eval", expr: branch, depth: x.depth, chain: 0 });
        break;
      }
      case "<":
      case ">":
      case "=":
      case "!=": {
        const args = pop(x.count);
        let result = true;
        for (let i = 1; i < args.length && result; i++) {
          const a = args[i - 1]!;
          const b = args[i]!;
          result = x.op === "=" || x.op === "!="
            ? equals(a, b)
            : compare(a, b) === (x.op === "<" ? -1 : 1);
        }
        values.push(bool(x.op === "!=" ? !result : result));
        break;
      }
      case "member?": {
        const [needle, haystack] = pop(2) as [Expr, Expr];
        if (haystack.type !== "seq") evalError("'member?' expects sequence as second argument");
        values.push(bool(haystack.items.some((item) => equals(needle, item))));
        break;
      }
    }
  }
  return values.pop()!;

  // Evaluates one expression at `depth` (containers around it): a value goes on the value
  // stack, a container or operation puts its work on the control stack.
  function evalOne(e: Expr, depth: number, chain: number): void {
    switch (e.type) {
      case "ident": {
        if (!Object.hasOwn(env, e.value)) evalError(`unbound identifier '${e.value}'`);
        if (chain > maxDepth) throw tooDeepToEvaluate(maxDepth);
        ctrl.push({ op: "eval", expr: env[e.value]!, depth, chain: chain + 1 });
        return;
      }
      case "seq":
        if (depth >= maxDepth) throw tooDeepToEvaluate(maxDepth);
        ctrl.push({ op: "seq", count: e.items.length });
        for (let i = e.items.length - 1; i >= 0; i--) {
          ctrl.push({ op: "eval", expr: e.items[i]!, depth: depth + 1, chain: 0 });
        }
        return;
      case "list":
        if (depth >= maxDepth) throw tooDeepToEvaluate(maxDepth);
        evalList(e.items, depth + 1);
        return;
      default:
        values.push(e);
    }
  }

  function evalList(xs: readonly Expr[], depth: number): void {
    if (xs.length === 0) {
      values.push({ type: "list", items: [] });
      return;
    }
    const head = xs[0]!;
    if (head.type !== "ident") evalError(`expected (op ...), got ${describe(head)}`);
    const args = xs.slice(1);
    const evalArg = (arg: Expr): void => {
      ctrl.push({ op: "eval", expr: arg, depth, chain: 0 });
    };
    const op = head.value;
    switch (op) {
      case "and":
      case "or":
        if (args.length === 0) {
          values.push(bool(op === "and"));
        } else if (args.length === 1) {
          evalArg(args[0]!);
        } else {
          ctrl.push({ op, args, next: 1, depth });
          evalArg(args[0]!);
        }
        return;
      case "not":
        if (args.length !== 1) evalError("'not' requires one argument");
        ctrl.push({ op: "not" });
        evalArg(args[0]!);
        return;
      case "if":
        if (args.length !== 3) evalError("'if' requires three arguments");
        ctrl.push({ op: "if", then: args[1]!, otherwise: args[2]!, depth });
        evalArg(args[0]!);
        return;
      case "<":
      case ">":
      case "=":
      case "!=":
        if (op !== "!=" && args.length < 2) evalError(`'${op}' requires at least two arguments`);
        ctrl.push({ op, count: args.length });
        for (let i = args.length - 1; i >= 0; i--) evalArg(args[i]!);
        return;
      case "member?":
        if (args.length !== 2) evalError("'member?' requires two arguments");
        ctrl.push({ op: "member?" });
        evalArg(args[1]!);
        evalArg(args[0]!);
        return;
      case "exists?": {
        for (const x of args) {
          if (x.type !== "ident") evalError("'exists?' expects identifiers as arguments");
          if (!Object.hasOwn(env, x.value)) {
            values.push(FALSE);
            return;
          }
        }
        values.push(TRUE);
        return;
      }
      default:
        return evalError(`unknown operator '${op}'`);
    }
  }
}

function tooDeepToEvaluate(maxDepth: number): TrustError {
  return new TrustError(
    "expression-too-deep",
    `expected an expression nested at most ${maxDepth} deep`,
  );
}

/** The subject an ABAC policy is checked against. */
export interface AbacSubject {
  /** The subject's identifier. */
  identifier: string;
  /** Attributes from the subject's verified credentials (name → value bytes). */
  attributes?: Readonly<Record<string, Uint8Array>>;
  /** Extra bindings (e.g. `resource.*`), which subject bindings cannot overwrite. */
  environment?: Env;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The environment Ockam's `Abac` builds for a subject: `subject.identifier`, then
 * `subject.<name>` for each attribute whose name and value are UTF-8 (others are
 * skipped), never overwriting an existing binding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abacEnvironment } from "@sealroute/sealroute/identity";
 * const env = abacEnvironment({ identifier: "I00", attributes: { role: new TextEncoder().encode("admin") } });
 * assert.deepEqual(env["subject.role"], { type: "str", value: "admin" });
 * ```
 */
export function abacEnvironment(subject: AbacSubject): Record<string, Expr> {
  const entries: [string, Expr][] = Object.entries(subject.environment ?? {});
  const env = new Map<string, Expr>(entries);
  env.set("subject.identifier", { type: "str", value: subject.identifier });
  for (const [name, value] of Object.entries(subject.attributes ?? {})) {
    let text: string;
    try {
      text = utf8.decode(value);
    } catch {
      continue;
    }
    const key = `subject.${name}`;
    if (!env.has(key)) env.set(key, { type: "str", value: text });
  }
  return Object.fromEntries(env);
}

/**
 * Whether `policy` (an expression, or its text form) allows `subject`: it must evaluate
 * to `true`; evaluation errors (an expression nested deeper than `maxDepth` among them)
 * and non-boolean results deny, as in Ockam. Policy text that does not parse is the
 * caller's mistake and throws its `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateAbacPolicy } from "@sealroute/sealroute/identity";
 * const role = new TextEncoder().encode("operator");
 * assert(evaluateAbacPolicy('(= subject.role "operator")', { identifier: "I00", attributes: { role } }));
 * assert(!evaluateAbacPolicy('(= subject.role "operator")', { identifier: "I00" }));
 * ```
 */
export function evaluateAbacPolicy(
  policy: Expr | string,
  subject: AbacSubject,
  options: { maxDepth?: number } = {},
): boolean {
  try {
    const expr = typeof policy === "string" ? parsePolicyText(policy, options) : policy;
    const result = evalExpr(expr, abacEnvironment(subject), options);
    return result.type === "bool" && result.value;
  } catch (error) {
    if (error instanceof TrustError) return false;
    throw error;
  }
}
