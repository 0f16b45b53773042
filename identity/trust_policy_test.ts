import assert from "node:assert/strict";
import {
  allOf,
  anyOf,
  evaluateTrustPolicy,
  trustCredentials,
  trustEveryone,
  trustIdentifiers,
  type TrustPolicy,
} from "./trust_policy.ts";
import type { VerifiedCredential } from "./verify_credential.ts";

const A = "I" + "aa".repeat(32);
const B = "I" + "bb".repeat(32);
const AUTH = "I" + "cc".repeat(32);
const OTHER_AUTH = "I" + "dd".repeat(32);
const utf8 = new TextEncoder();

function credential(
  issuer: string,
  subject: string,
  attributes: Record<string, string>,
): VerifiedCredential {
  return {
    issuer,
    subject,
    createdAt: 0,
    expiresAt: 1,
    schema: 0,
    attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, utf8.encode(v)])),
  };
}

Deno.test("identifier and everyone policies", () => {
  assert(evaluateTrustPolicy(trustEveryone(), { identifier: A }));
  assert(evaluateTrustPolicy(trustIdentifiers(A, B), { identifier: B }));
  assert(!evaluateTrustPolicy(trustIdentifiers(A), { identifier: B }));
  assert(!evaluateTrustPolicy(trustIdentifiers(), { identifier: A }));
  assert.throws(() => trustIdentifiers("nope"), TypeError);
});

Deno.test("credential policies check issuer, subject and required values", () => {
  const policy = trustCredentials({
    authorities: [AUTH],
    attributes: { role: "operator", site: "x" },
  });
  const subject = (credentials: VerifiedCredential[]) => ({ identifier: A, credentials });
  assert(
    evaluateTrustPolicy(policy, subject([credential(AUTH, A, { role: "operator", site: "x" })])),
  );
  // Attributes may come from two credentials of accepted authorities.
  assert(
    evaluateTrustPolicy(
      policy,
      subject([credential(AUTH, A, { role: "operator" }), credential(AUTH, A, { site: "x" })]),
    ),
  );
  assert(
    !evaluateTrustPolicy(
      policy,
      subject([credential(OTHER_AUTH, A, { role: "operator", site: "x" })]),
    ),
  );
  assert(
    !evaluateTrustPolicy(policy, subject([credential(AUTH, B, { role: "operator", site: "x" })])),
  );
  assert(
    !evaluateTrustPolicy(policy, subject([credential(AUTH, A, { role: "operator", site: "y" })])),
  );
  assert(
    !evaluateTrustPolicy(policy, { identifier: A, attributes: { role: utf8.encode("operator") } }),
  );
  const any = trustCredentials({ authorities: [AUTH] });
  assert(evaluateTrustPolicy(any, subject([credential(AUTH, A, {})])));
  assert(!evaluateTrustPolicy(any, subject([])));
  // Inherited property names are not attributes.
  const proto = trustCredentials({ authorities: [AUTH], attributes: { constructor: "x" } });
  assert(!evaluateTrustPolicy(proto, subject([credential(AUTH, A, {})])));
});

Deno.test("allOf / anyOf combine; policies are plain data", () => {
  const policy = anyOf(trustIdentifiers(B), allOf(trustIdentifiers(A), trustEveryone()));
  const roundTripped = JSON.parse(JSON.stringify(policy)) as TrustPolicy;
  for (const p of [policy, roundTripped]) {
    assert(evaluateTrustPolicy(p, { identifier: A }));
    assert(evaluateTrustPolicy(p, { identifier: B }));
    assert(!evaluateTrustPolicy(p, { identifier: AUTH }));
  }
  assert(evaluateTrustPolicy(allOf(), { identifier: A }));
  assert(!evaluateTrustPolicy(anyOf(), { identifier: A }));
  assert.throws(
    () => evaluateTrustPolicy({ type: "nobody" } as unknown as TrustPolicy, { identifier: A }),
    TypeError,
  );
});
