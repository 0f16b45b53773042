/**
 * Attribute-based access policies as plain data: required attribute values and
 * identifiers combined with all/any/not. They translate to Ockam policy expressions
 * (so they print in Ockam's syntax) and evaluate with Ockam's ABAC semantics.
 *
 * @module
 */
import { depthOption, type Expr } from "./expr.ts";
import { type AbacSubject, evaluateAbacPolicy } from "./expr_eval.ts";

/** An access policy as data. */
export type AttributePolicy =
  | {
    /** Attribute name (`subject.<name>`); `"identifier"` is the subject's identifier. */
    attribute: string;
    /** Required value (compared as UTF-8 text). */
    equals: string;
  }
  | {
    /** The subject's identifier must be one of these. */
    identifierIn: string[];
  }
  | {
    /** Every policy must allow (true when empty). */
    allOf: AttributePolicy[];
  }
  | {
    /** At least one policy must allow (false when empty). */
    anyOf: AttributePolicy[];
  }
  | {
    /** The policy must deny. */
    not: AttributePolicy;
  };

const ident = (value: string): Expr => ({ type: "ident", value });
const str = (value: string): Expr => ({ type: "str", value });
const op = (name: string, items: Expr[]): Expr => ({
  type: "list",
  items: [ident(name), ...items],
});

/**
 * The Ockam policy expression of `policy`. An attribute check becomes
 * `(and (exists? subject.a) (= subject.a "v"))`, so a missing attribute is false rather
 * than an evaluation error that would deny the whole policy.
 *
 * @throws {TypeError} for a malformed policy, or one whose expression would nest deeper
 * than `maxDepth` (default {@linkcode MAX_EXPR_DEPTH}: an attribute check is two levels,
 * each `allOf`/`anyOf`/`not` one more), which evaluation would refuse.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attributePolicyToExpr, printExpr } from "@sealroute/sealroute/identity";
 * const expr = attributePolicyToExpr({ identifierIn: ["I" + "aa".repeat(32)] });
 * assert.equal(printExpr(expr), `(member? subject.identifier ["I${"aa".repeat(32)}"])`);
 * ```
 */
export function attributePolicyToExpr(
  policy: AttributePolicy,
  options: { maxDepth?: number } = {},
): Expr {
  const maxDepth = depthOption(options);
  const [expr, depth] = toExpr(policy, 0, maxDepth);
  if (depth > maxDepth) throw tooDeepPolicy(maxDepth);
  return expr;
}

function tooDeepPolicy(maxDepth: number): TypeError {
  return new TypeError(`attribute policy nested deeper than ${maxDepth} expression levels`);
}

// The expression and its depth; `level` (policies around this one) stops the recursion
// before it could go deeper than the result may be.
function toExpr(policy: AttributePolicy, level: number, maxDepth: number): [Expr, number] {
  if (level >= maxDepth) throw tooDeepPolicy(maxDepth);
  const all = (policies: AttributePolicy[]): [Expr[], number] => {
    const items: Expr[] = [];
    let depth = 0;
    for (const p of policies) {
      const [e, d] = toExpr(p, level + 1, maxDepth);
      items.push(e);
      depth = Math.max(depth, d);
    }
    return [items, depth];
  };
  if ("attribute" in policy) {
    if (typeof policy.equals !== "string") throw new TypeError("'equals' must be a string");
    const name = ident(`subject.${policy.attribute}`);
    return [op("and", [op("exists?", [name]), op("=", [name, str(policy.equals)])]), 2];
  }
  if ("identifierIn" in policy) {
    return [
      op("member?", [ident("subject.identifier"), {
        type: "seq",
        items: policy.identifierIn.map(str),
      }]),
      2,
    ];
  }
  if ("allOf" in policy || "anyOf" in policy) {
    const isAll = "allOf" in policy;
    const [items, depth] = all(isAll ? policy.allOf : policy.anyOf);
    return [op(isAll ? "and" : "or", items), depth + 1];
  }
  if ("not" in policy) {
    const [inner, depth] = toExpr(policy.not, level + 1, maxDepth);
    return [op("not", [inner]), depth + 1];
  }
  throw new TypeError("unknown attribute policy");
}

/**
 * Whether `policy` allows `subject`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateAttributePolicy } from "@sealroute/sealroute/identity";
 * const policy = {
 *   allOf: [{ attribute: "role", equals: "operator" }, { not: { attribute: "suspended", equals: "true" } }],
 * };
 * const attributes = { role: new TextEncoder().encode("operator") };
 * assert(evaluateAttributePolicy(policy, { identifier: "I00", attributes }));
 * assert(!evaluateAttributePolicy(policy, { identifier: "I00" }));
 * ```
 */
export function evaluateAttributePolicy(
  policy: AttributePolicy,
  subject: AbacSubject,
  options: { maxDepth?: number } = {},
): boolean {
  return evaluateAbacPolicy(attributePolicyToExpr(policy, options), subject, options);
}
