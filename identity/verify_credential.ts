/**
 * Verifying credentials (OCKAM_WIRE §6.3).
 *
 * @module
 */
import { TrustError } from "../errors.ts";
import { sha256, timeOf, verifyHash } from "./_common.ts";
import {
  type CredentialAndPurposeKey,
  decodeCredential,
  decodeCredentialData,
} from "./credential.ts";
import type { Identity } from "./identity.ts";
import { decodePurposeKeyAttestationData, verifyPurposeKeyAttestation } from "./purpose_key.ts";
import type { ClockOptions } from "./types.ts";

/**
 * Default bound on a credential's size: the bytes of its data and of its issuer's
 * attestation data (Ockam credentials are a few hundred bytes).
 */
export const DEFAULT_MAX_CREDENTIAL_SIZE = 16 * 1024;

/** Options of {@linkcode verifyCredential}. */
export interface VerifyCredentialOptions extends ClockOptions {
  /** Verified identities of the accepted issuers. */
  authorities: readonly Identity[];
  /** If given, the credential's subject must be this identifier (`wrong-subject`). */
  subject?: string;
  /**
   * Refuse a larger credential (`credential-too-large`) before anything is verified.
   * Default {@linkcode DEFAULT_MAX_CREDENTIAL_SIZE}.
   */
  maxCredentialSize?: number;
}

/** A credential's size as {@linkcode VerifyCredentialOptions.maxCredentialSize} counts it. */
export function credentialSize(credential: CredentialAndPurposeKey): number {
  return credential.credential.data.length + credential.purposeKeyAttestation.data.length;
}

/** Throws `credential-too-large` for a credential over `max` bytes (see {@linkcode credentialSize}). */
export function checkCredentialSize(credential: CredentialAndPurposeKey, max: number): void {
  const size = credentialSize(credential);
  if (size > max) {
    throw new TrustError(
      "credential-too-large",
      `a credential of ${size} bytes is over the bound of ${max}`,
    );
  }
}

/** A credential that verified. */
export interface VerifiedCredential {
  /** Identifier of the issuing authority. */
  issuer: string;
  /** Identifier of the subject. */
  subject: string;
  /** Attribute name → value bytes. */
  attributes: Record<string, Uint8Array>;
  /** Issue time (seconds). */
  createdAt: number;
  /** Expiry time (seconds): the attributes hold until then. */
  expiresAt: number;
  /** `CredentialSchemaIdentifier` (not checked). */
  schema: number;
}

/**
 * Verifies a credential (decoded, CBOR or hex) as Ockam's `verify_credential_static`:
 * the issuer's purpose-key attestation (issuer among `authorities`, attestation valid
 * now), the key is credential-signing, the signature over `SHA256(data)`, the subject is
 * present (and the expected one), the credential's window lies in the purpose key's, it
 * is not created more than `skew` seconds from now and not expired. Failures are
 * `TrustError`s with codes `untrusted-issuer`, `wrong-key-type`, `bad-signature`,
 * `signature-type-mismatch`, `missing-subject`, `wrong-subject`,
 * `outside-purpose-key-window`, `not-yet-valid`, `expired`, `credential-too-large`
 * (checked first, before any signature; or an attestation code of
 * {@linkcode verifyPurposeKeyAttestation}); undecodable input is a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, issueCredential, verifyCredential } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const t = 1_700_000_000;
 * const authority = await createIdentity(new Vault(), { clock: () => t });
 * const credential = await issueCredential({
 *   issuer: authority, subject: authority.identity, attributes: { a: "1" }, ttl: 60, clock: () => t,
 * });
 * await assert.rejects(
 *   verifyCredential(credential, { authorities: [authority.identity], clock: () => t + 61 }),
 *   { name: "TrustError", code: "expired" },
 * );
 * ```
 */
export async function verifyCredential(
  credential: CredentialAndPurposeKey | Uint8Array | string,
  options: VerifyCredentialOptions,
): Promise<VerifiedCredential> {
  const decoded = credential instanceof Uint8Array || typeof credential === "string"
    ? decodeCredential(credential)
    : credential;
  checkCredentialSize(decoded, options.maxCredentialSize ?? DEFAULT_MAX_CREDENTIAL_SIZE);
  const clock: ClockOptions = {};
  if (options.clock !== undefined) clock.clock = options.clock;
  if (options.skew !== undefined) clock.skew = options.skew;

  // §6.3 step 1: the attestation's subject is the issuer; it must be an accepted authority.
  const claimed = decodePurposeKeyAttestationData(decoded.purposeKeyAttestation.data);
  const issuer = options.authorities.find((a) => a.identifier === claimed.subject);
  if (issuer === undefined) {
    throw new TrustError(
      "untrusted-issuer",
      `credential issued by ${claimed.subject}, which is not an accepted authority`,
    );
  }
  const key = await verifyPurposeKeyAttestation(issuer, decoded.purposeKeyAttestation, clock);
  if (key.publicKey.type !== "credential-signing") {
    throw new TrustError(
      "wrong-key-type",
      "credential signed with a secure-channel key, not a credential-signing key",
    );
  }
  const hash = await sha256(decoded.credential.data);
  if (!await verifyHash(key.publicKey.key, hash, decoded.credential.signature, "credential")) {
    throw new TrustError("bad-signature", "credential signature does not verify");
  }
  const data = decodeCredentialData(decoded.credential.data);
  if (data.subject === null) {
    throw new TrustError("missing-subject", "credentials without a subject are not supported");
  }
  if (options.subject !== undefined && data.subject !== options.subject) {
    throw new TrustError(
      "wrong-subject",
      `credential is for ${data.subject}, expected ${options.subject}`,
    );
  }
  if (data.createdAt < key.createdAt || data.expiresAt > key.expiresAt) {
    throw new TrustError(
      "outside-purpose-key-window",
      `credential window ${data.createdAt}..${data.expiresAt} is outside its signing key's ${key.createdAt}..${key.expiresAt}`,
    );
  }
  const { now, skew } = timeOf(clock);
  if (data.createdAt > now + skew) {
    throw new TrustError(
      "not-yet-valid",
      `credential created at ${data.createdAt}, more than ${skew}s after now (${now})`,
    );
  }
  if (data.expiresAt < now) {
    throw new TrustError("expired", `credential expired at ${data.expiresAt} (now ${now})`);
  }
  return {
    issuer: issuer.identifier,
    subject: data.subject,
    attributes: data.attributes,
    createdAt: data.createdAt,
    expiresAt: data.expiresAt,
    schema: data.schema,
  };
}
