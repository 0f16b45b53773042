/**
 * Trust policies: which peers a secure channel accepts. Policies are plain data
 * (JSON-friendly apart from byte attribute values), built with the helpers below and
 * evaluated against a {@linkcode TrustSubject}.
 *
 * @module
 */
import { equalBytes } from "../_bytes.ts";
import { isIdentifier } from "./identifier.ts";
import type { VerifiedCredential } from "./verify_credential.ts";

/** A trust policy as data. */
export type TrustPolicy =
  | { type: "everyone" }
  | { type: "identifiers"; identifiers: string[] }
  | {
    type: "credentials";
    authorities: string[];
    attributes: Record<string, string | Uint8Array>;
  }
  | { type: "all"; policies: TrustPolicy[] }
  | { type: "any"; policies: TrustPolicy[] };

/** What a policy is evaluated against: an authenticated peer. */
export interface TrustSubject {
  /** The peer's identifier. */
  identifier: string;
  /** Attributes from verified credentials (merged), for attribute-based checks. */
  attributes?: Readonly<Record<string, Uint8Array>>;
  /** The verified credentials themselves; {@linkcode trustCredentials} checks their issuers. */
  credentials?: readonly VerifiedCredential[];
}

/**
 * Trusts every authenticated peer (Ockam's `TrustEveryonePolicy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateTrustPolicy, trustEveryone } from "@sealroute/sealroute/identity";
 * assert(evaluateTrustPolicy(trustEveryone(), { identifier: "I" + "00".repeat(32) }));
 * ```
 */
export function trustEveryone(): TrustPolicy {
  return { type: "everyone" };
}

/**
 * Trusts only the given identifiers (Ockam's `TrustIdentifierPolicy` /
 * `TrustMultiIdentifiersPolicy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateTrustPolicy, trustIdentifiers } from "@sealroute/sealroute/identity";
 * const alice = "I" + "aa".repeat(32);
 * assert(evaluateTrustPolicy(trustIdentifiers(alice), { identifier: alice }));
 * assert(!evaluateTrustPolicy(trustIdentifiers(alice), { identifier: "I" + "bb".repeat(32) }));
 * ```
 */
export function trustIdentifiers(...identifiers: string[]): TrustPolicy {
  for (const identifier of identifiers) {
    if (!isIdentifier(identifier)) throw new TypeError(`not an identifier: '${identifier}'`);
  }
  return { type: "identifiers", identifiers: [...identifiers] };
}

/** Options of {@linkcode trustCredentials}. */
export interface TrustCredentialsOptions {
  /** Identifiers of the accepted issuers. */
  authorities: string[];
  /** Required attribute values (strings compare as UTF-8). Default: none, any credential. */
  attributes?: Record<string, string | Uint8Array>;
}

/**
 * Trusts peers holding verified credentials, issued to them by one of `authorities`,
 * that together carry every required attribute value. With no required attributes, one
 * such credential suffices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateTrustPolicy, trustCredentials } from "@sealroute/sealroute/identity";
 * const authority = "I" + "aa".repeat(32);
 * const peer = "I" + "bb".repeat(32);
 * const policy = trustCredentials({ authorities: [authority], attributes: { role: "operator" } });
 * const credential = {
 *   issuer: authority, subject: peer, createdAt: 0, expiresAt: 2 ** 40, schema: 0,
 *   attributes: { role: new TextEncoder().encode("operator") },
 * };
 * assert(evaluateTrustPolicy(policy, { identifier: peer, credentials: [credential] }));
 * assert(!evaluateTrustPolicy(policy, { identifier: peer }));
 * ```
 */
export function trustCredentials(options: TrustCredentialsOptions): TrustPolicy {
  for (const identifier of options.authorities) {
    if (!isIdentifier(identifier)) throw new TypeError(`not an identifier: '${identifier}'`);
  }
  return {
    type: "credentials",
    authorities: [...options.authorities],
    attributes: { ...(options.attributes ?? {}) },
  };
}

/**
 * Trusts a peer every one of `policies` trusts (Ockam's `AllTrustPolicy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allOf, evaluateTrustPolicy, trustEveryone, trustIdentifiers } from "@sealroute/sealroute/identity";
 * const alice = "I" + "aa".repeat(32);
 * assert(!evaluateTrustPolicy(allOf(trustEveryone(), trustIdentifiers(alice)), { identifier: "I" + "bb".repeat(32) }));
 * ```
 */
export function allOf(...policies: TrustPolicy[]): TrustPolicy {
  return { type: "all", policies: [...policies] };
}

/**
 * Trusts a peer any one of `policies` trusts (Ockam's `AnyTrustPolicy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anyOf, evaluateTrustPolicy, trustIdentifiers } from "@sealroute/sealroute/identity";
 * const alice = "I" + "aa".repeat(32);
 * const bob = "I" + "bb".repeat(32);
 * assert(evaluateTrustPolicy(anyOf(trustIdentifiers(alice), trustIdentifiers(bob)), { identifier: bob }));
 * ```
 */
export function anyOf(...policies: TrustPolicy[]): TrustPolicy {
  return { type: "any", policies: [...policies] };
}

const utf8 = new TextEncoder();

/**
 * Whether `policy` trusts `subject`. A malformed policy (unknown `type`) is a `TypeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateTrustPolicy } from "@sealroute/sealroute/identity";
 * const policy = JSON.parse('{"type":"identifiers","identifiers":["I' + "aa".repeat(32) + '"]}');
 * assert(evaluateTrustPolicy(policy, { identifier: "I" + "aa".repeat(32) }));
 * ```
 */
export function evaluateTrustPolicy(policy: TrustPolicy, subject: TrustSubject): boolean {
  return evaluate(policy, subject, 0);
}

function evaluate(policy: TrustPolicy, subject: TrustSubject, depth: number): boolean {
  if (depth > 64) throw new TypeError("trust policy nested too deeply");
  switch (policy?.type) {
    case "everyone":
      return true;
    case "identifiers":
      return policy.identifiers.includes(subject.identifier);
    case "credentials":
      return credentialsSatisfy(policy, subject);
    case "all":
      return policy.policies.every((p) => evaluate(p, subject, depth + 1));
    case "any":
      return policy.policies.some((p) => evaluate(p, subject, depth + 1));
    default:
      throw new TypeError(
        `unknown trust policy type '${String((policy as { type?: unknown })?.type)}'`,
      );
  }
}

/**
 * What `policy` decides from the peer's identifier alone, before anything is verified:
 * `false` when no credentials could make it trust the peer, `true` when it trusts the
 * peer whatever its credentials, `undefined` when that depends on verified credentials.
 * `withCredentials: false` says no credential can verify (none presented, or no
 * authorities to check them against), so credential policies decide too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anyOf, decideOnIdentifier, trustCredentials, trustIdentifiers } from "./trust_policy.ts";
 * const alice = "I" + "aa".repeat(32);
 * const bob = "I" + "bb".repeat(32);
 * const policy = anyOf(trustIdentifiers(alice), trustCredentials({ authorities: [bob] }));
 * assert.equal(decideOnIdentifier(policy, bob, { withCredentials: false }), false);
 * assert.equal(decideOnIdentifier(policy, bob, { withCredentials: true }), undefined);
 * assert.equal(decideOnIdentifier(policy, alice, { withCredentials: true }), true);
 * ```
 */
export function decideOnIdentifier(
  policy: TrustPolicy,
  identifier: string,
  options: { withCredentials: boolean },
): boolean | undefined {
  return decide(policy, identifier, options.withCredentials, 0);
}

function decide(
  policy: TrustPolicy,
  identifier: string,
  withCredentials: boolean,
  depth: number,
): boolean | undefined {
  if (depth > 64) throw new TypeError("trust policy nested too deeply");
  switch (policy?.type) {
    case "everyone":
      return true;
    case "identifiers":
      return policy.identifiers.includes(identifier);
    case "credentials":
      return withCredentials ? undefined : false;
    case "all": {
      let result: boolean | undefined = true;
      for (const p of policy.policies) {
        const one = decide(p, identifier, withCredentials, depth + 1);
        if (one === false) return false;
        if (one === undefined) result = undefined;
      }
      return result;
    }
    case "any": {
      let result: boolean | undefined = false;
      for (const p of policy.policies) {
        const one = decide(p, identifier, withCredentials, depth + 1);
        if (one === true) return true;
        if (one === undefined) result = undefined;
      }
      return result;
    }
    default:
      throw new TypeError(
        `unknown trust policy type '${String((policy as { type?: unknown })?.type)}'`,
      );
  }
}

function credentialsSatisfy(
  policy: Extract<TrustPolicy, { type: "credentials" }>,
  subject: TrustSubject,
): boolean {
  const relevant = (subject.credentials ?? []).filter((c) =>
    c.subject === subject.identifier && policy.authorities.includes(c.issuer)
  );
  if (relevant.length === 0) return false;
  return Object.entries(policy.attributes).every(([name, required]) => {
    const expected = typeof required === "string" ? utf8.encode(required) : required;
    return relevant.some((c) =>
      Object.hasOwn(c.attributes, name) && equalBytes(c.attributes[name]!, expected)
    );
  });
}
