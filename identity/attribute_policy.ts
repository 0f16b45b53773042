/**
 * Attribute-based access policies as plain data: required attribute values and
 * identifiers combined with all/any/not. They translate to Ockam policy expressions
 * (so they print in Ockam's syntax) and evaluate with Ockam's ABAC semantics.
 *
 * @module
 */
import type { Expr } from "./expr.ts";
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
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attributePolicyToExpr, printExpr } from "@sealroute/sealroute/identity";
 * const expr = attributePolicyToExpr({ identifierIn: ["I" + "aa".repeat(32)] });
 * assert.equal(printExpr(expr), `(member? subject.identifier ["I${"aa".repeat(32)}"])`);
 * ```
 */
export function attributePolicyToExpr(policy: AttributePolicy): Expr {
  return toExpr(policy, 0);
}

function toExpr(policy: AttributePolicy, depth: number): Expr {
  if (depth > 256) throw new TypeError("attribute policy nested too deeply");
  if ("attribute" in policy) {
    if (typeof policy.equals !== "string") throw new TypeError("'equals' must be a string");
    const name = ident(`subject.${policy.attribute}`);
    return op("and", [op("exists?", [name]), op("=", [name, str(policy.equals)])]);
  }
  if ("identifierIn" in policy) {
    return op("member?", [ident("subject.identifier"), {
      type: "seq",
      items: policy.identifierIn.map(str),
    }]);
  }
  if ("allOf" in policy) return op("and", policy.allOf.map((p) => toExpr(p, depth + 1)));
  if ("anyOf" in policy) return op("or", policy.anyOf.map((p) => toExpr(p, depth + 1)));
  if ("not" in policy) return op("not", [toExpr(policy.not, depth + 1)]);
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
export function evaluateAttributePolicy(policy: AttributePolicy, subject: AbacSubject): boolean {
  return evaluateAbacPolicy(attributePolicyToExpr(policy), subject);
}
