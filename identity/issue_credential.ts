/**
 * Issuing credentials (OCKAM_WIRE §6): an authority signs a subject's attributes with
 * its credential-signing purpose key.
 *
 * @module
 */
import { checkTimestamp, sha256, signHash, timeOf } from "./_common.ts";
import {
  type AttributeInput,
  type CredentialAndPurposeKey,
  encodeCredentialData,
} from "./credential.ts";
import type { Identity } from "./identity.ts";
import { type CredentialKey, LocalIdentity } from "./local_identity.ts";
import type { Clock } from "./types.ts";

/** Default credential lifetime: 30 days. */
export const DEFAULT_CREDENTIAL_TTL = 30 * 24 * 60 * 60;

/** What {@linkcode issueCredential} needs. */
export interface IssueCredentialOptions {
  /**
   * The authority: a local identity (its current credential-signing key is used, or one
   * is created) or a credential-signing purpose key.
   */
  issuer: LocalIdentity | CredentialKey;
  /** The subject's verified identity (its latest change hash goes into the credential). */
  subject: Identity;
  /** Attribute name → value; strings are encoded as UTF-8. */
  attributes: AttributeInput;
  /** Lifetime in seconds, capped at the purpose key's expiry. Default 30 days. */
  ttl?: number;
  /** The current time in seconds. */
  clock?: Clock;
  /** `CredentialSchemaIdentifier`. Default 0. */
  schema?: number;
}

/**
 * Issues a credential: `created_at = now`, `expires_at = now + ttl` (at most the signing
 * key's expiry), subject and subject's latest change hash set, signed over
 * `SHA256(data)` with the issuer's credential-signing key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, issueCredential, verifyCredential } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const authority = await createIdentity(new Vault());
 * const device = await createIdentity(new Vault());
 * const credential = await issueCredential({
 *   issuer: authority,
 *   subject: device.identity,
 *   attributes: { role: "sensor" },
 *   ttl: 3600,
 * });
 * const verified = await verifyCredential(credential, {
 *   authorities: [authority.identity],
 *   subject: device.identifier,
 * });
 * assert.equal(new TextDecoder().decode(verified.attributes.role), "sensor");
 * ```
 */
export async function issueCredential(
  options: IssueCredentialOptions,
): Promise<CredentialAndPurposeKey> {
  const clockOptions = options.clock ? { clock: options.clock } : {};
  const key = options.issuer instanceof LocalIdentity
    ? await options.issuer.credentialKey(clockOptions)
    : options.issuer;
  const { now } = timeOf(clockOptions);
  const createdAt = Math.max(now, key.data.createdAt);
  const ttl = checkTimestamp(options.ttl ?? DEFAULT_CREDENTIAL_TTL, "ttl");
  const expiresAt = Math.min(createdAt + ttl, key.data.expiresAt);
  if (expiresAt < createdAt) throw new RangeError("the credential-signing key has expired");
  const data = encodeCredentialData({
    subject: options.subject.identifier,
    subjectLatestChangeHash: options.subject.latestChangeHash,
    schema: options.schema ?? 0,
    attributes: options.attributes,
    createdAt,
    expiresAt,
  });
  return {
    credential: { data, signature: await signHash(key.key, await sha256(data)) },
    purposeKeyAttestation: key.attestation,
  };
}
