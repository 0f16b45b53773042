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
import { printExpr } from "./expr.ts";
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

/** Ockam's `Expr::equals`: structural equality; different types are an error. */
function equals(a: Expr, b: Expr): boolean {
  if (a.type !== b.type) evalError(`type mismatch: ${describe(a)} vs ${describe(b)}`);
  switch (a.type) {
    case "seq":
    case "list": {
      const items = (b as typeof a).items;
      if (a.items.length !== items.length) return false;
      for (let i = 0; i < items.length; i++) {
        if (!equals(a.items[i]!, items[i]!)) return false;
      }
      return true;
    }
    default:
      return a.value === (b as typeof a).value;
  }
}

/** Ockam's `Expr::compare`: an ordering, `undefined` when unordered (NaN). */
function compare(a: Expr, b: Expr): number | undefined {
  if (a.type !== b.type) evalError(`type mismatch: ${describe(a)} vs ${describe(b)}`);
  switch (a.type) {
    case "str":
    case "ident":
      return Math.sign(compareCodePoints(a.value, (b as typeof a).value));
    case "int":
    case "float":
    case "bool": {
      const x = a.value;
      const y = (b as typeof a).value;
      return x < y ? -1 : x > y ? 1 : x === y ? 0 : undefined;
    }
    case "seq":
    case "list": {
      const items = (b as typeof a).items;
      if (a.items.length !== items.length) return a.items.length < items.length ? -1 : 1;
      for (let i = 0; i < items.length; i++) {
        const c = compare(a.items[i]!, items[i]!);
        if (c !== 0) return c;
      }
      return 0;
    }
  }
}

function asBool(e: Expr, op: string): boolean {
  if (e.type !== "bool") evalError(`'${op}' expects boolean arguments, got ${describe(e)}`);
  return e.value;
}

/**
 * Evaluates `expr` in `env` with Ockam's semantics: identifiers are looked up, `and`/`or`
 * short-circuit, `=`/`<`/`>` compare neighbouring arguments, `!=` negates `=`,
 * `member?` searches a sequence, `exists?` tests bindings, `if` branches. An unbound
 * identifier, unknown operator, wrong arity or type mismatch is a `TrustError` with code
 * `policy-evaluation-failed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evalExpr, parseExpr } from "@sealroute/sealroute/identity";
 * const result = evalExpr(parseExpr("(< 1 2 3)"), {});
 * assert.deepEqual(result, { type: "bool", value: true });
 * assert.throws(() => evalExpr(parseExpr("(= x 1)"), {}), { code: "policy-evaluation-failed" });
 * ```
 */
export function evalExpr(expr: Expr, env: Env): Expr {
  const steps = { n: 0 };
  return evaluate(expr, env, steps, 0);
}

function evaluate(expr: Expr, env: Env, steps: { n: number }, depth: number): Expr {
  if (++steps.n > MAX_STEPS || depth > 4096) evalError("expression too large to evaluate");
  switch (expr.type) {
    case "ident": {
      if (!Object.hasOwn(env, expr.value)) evalError(`unbound identifier '${expr.value}'`);
      return evaluate(env[expr.value]!, env, steps, depth + 1);
    }
    case "seq":
      return { type: "seq", items: expr.items.map((e) => evaluate(e, env, steps, depth + 1)) };
    case "list":
      return evaluateList(expr.items, env, steps, depth);
    default:
      return expr;
  }
}

function evaluateList(xs: Expr[], env: Env, steps: { n: number }, depth: number): Expr {
  if (xs.length === 0) return { type: "list", items: [] };
  const head = xs[0]!;
  if (head.type !== "ident") evalError(`expected (op ...), got ${describe(head)}`);
  const args = xs.slice(1);
  const ev = (e: Expr): Expr => evaluate(e, env, steps, depth + 1);
  const op = head.value;
  switch (op) {
    case "and":
    case "or": {
      // The last argument's value is the result as is, as in Ockam.
      const stopOn = op === "or";
      if (args.length === 0) return { type: "bool", value: op === "and" };
      for (let i = 0; i < args.length - 1; i++) {
        if (asBool(ev(args[i]!), op) === stopOn) return { type: "bool", value: stopOn };
      }
      return ev(args[args.length - 1]!);
    }
    case "not":
      if (args.length !== 1) evalError("'not' requires one argument");
      return { type: "bool", value: !asBool(ev(args[0]!), "not") };
    case "if":
      if (args.length !== 3) evalError("'if' requires three arguments");
      return asBool(ev(args[0]!), "if") ? ev(args[1]!) : ev(args[2]!);
    case "<":
    case ">":
    case "=":
    case "!=": {
      if (op !== "!=" && args.length < 2) evalError(`'${op}' requires at least two arguments`);
      const values = args.map(ev);
      let result = true;
      for (let i = 1; i < values.length && result; i++) {
        const a = values[i - 1]!;
        const b = values[i]!;
        result = op === "=" || op === "!=" ? equals(a, b) : compare(a, b) === (op === "<" ? -1 : 1);
      }
      return { type: "bool", value: op === "!=" ? !result : result };
    }
    case "member?": {
      if (args.length !== 2) evalError("'member?' requires two arguments");
      const needle = ev(args[0]!);
      const haystack = ev(args[1]!);
      if (haystack.type !== "seq") {
        evalError("'member?' expects sequence as second argument");
      }
      return { type: "bool", value: haystack.items.some((x) => equals(needle, x)) };
    }
    case "exists?": {
      for (const x of args) {
        if (x.type !== "ident") evalError("'exists?' expects identifiers as arguments");
        if (!Object.hasOwn(env, x.value)) return { type: "bool", value: false };
      }
      return { type: "bool", value: true };
    }
    default:
      return evalError(`unknown operator '${op}'`);
  }
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
 * to `true`; evaluation errors and non-boolean results deny, as in Ockam.
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
export function evaluateAbacPolicy(policy: Expr | string, subject: AbacSubject): boolean {
  try {
    const expr = typeof policy === "string" ? parsePolicyText(policy) : policy;
    const result = evalExpr(expr, abacEnvironment(subject));
    return result.type === "bool" && result.value;
  } catch (error) {
    if (error instanceof TrustError) return false;
    throw error;
  }
}
