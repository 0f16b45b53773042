/**
 * Everything a secure channel checks on a handshake payload (OCKAM_WIRE §3.2): the
 * peer's identity and purpose key, its credentials, and the local trust policy.
 *
 * @module
 */
import { equalBytes } from "../_bytes.ts";
import { DecodeError, TrustError } from "../errors.ts";
import type { CredentialAndPurposeKey } from "./credential.ts";
import {
  decodeIdentityAndCredentials,
  decodeRefreshCredentials,
  type IdentityAndCredentials,
  type RefreshCredentials,
} from "./handshake_payload.ts";
import {
  claimedIdentifier,
  DEFAULT_MAX_CHANGES,
  type Identity,
  importIdentity,
} from "./identity.ts";
import { verifySecureChannelPeer } from "./purpose_key.ts";
import { decideOnIdentifier, evaluateTrustPolicy, type TrustPolicy } from "./trust_policy.ts";
import type { ClockOptions } from "./types.ts";
import {
  checkCredentialSize,
  DEFAULT_MAX_CREDENTIAL_SIZE,
  type VerifiedCredential,
  verifyCredential,
} from "./verify_credential.ts";

/** Default bound on the credentials a peer presents at once (Ockam sends 0 or 1). */
export const DEFAULT_MAX_CREDENTIALS = 8;

/**
 * Bounds on what a peer presents, each checked before any signature is verified, each
 * refused with a `TrustError`: `too-many-changes`, `too-many-credentials`,
 * `credential-too-large`.
 */
export interface PeerLimits {
  /** Most changes in the peer's history. Default {@linkcode DEFAULT_MAX_CHANGES} (32). */
  maxChanges?: number;
  /** Most credentials presented at once. Default {@linkcode DEFAULT_MAX_CREDENTIALS} (8). */
  maxCredentials?: number;
  /** Largest credential, in bytes of data and attestation data. Default 16 KiB. */
  maxCredentialSize?: number;
}

function checkCredentials(
  credentials: readonly CredentialAndPurposeKey[],
  limits: PeerLimits,
): void {
  const max = limits.maxCredentials ?? DEFAULT_MAX_CREDENTIALS;
  if (credentials.length > max) {
    throw new TrustError(
      "too-many-credentials",
      `${credentials.length} credentials presented, over the bound of ${max}`,
    );
  }
  const size = limits.maxCredentialSize ?? DEFAULT_MAX_CREDENTIAL_SIZE;
  for (const credential of credentials) checkCredentialSize(credential, size);
}

function clockOf(options: ClockOptions): ClockOptions {
  const clock: ClockOptions = {};
  if (options.clock !== undefined) clock.clock = options.clock;
  if (options.skew !== undefined) clock.skew = options.skew;
  return clock;
}

/** Options of {@linkcode verifyIdentityAndCredentials}. */
export interface VerifyIdentityAndCredentialsOptions extends ClockOptions, PeerLimits {
  /** The Noise remote static key the attestation must attest. */
  remoteStaticKey: Uint8Array;
  /** Accepted credential issuers; without them credentials are not checked (as Ockam). */
  authorities?: readonly Identity[];
  /** Trust policy for the peer. Default: trust everyone. */
  trustPolicy?: TrustPolicy;
}

/** An authenticated peer. */
export interface VerifiedPeer {
  /** The peer's verified identity. */
  identity: Identity;
  /** Credentials that verified (issued to the peer by an accepted authority). */
  credentials: VerifiedCredential[];
  /** Their attributes merged (later credentials win). */
  attributes: Record<string, Uint8Array>;
  /** Why each other credential was rejected (Ockam only logs these; the peer is still accepted). */
  rejectedCredentials: (TrustError | DecodeError)[];
}

/**
 * Verifies a handshake payload. Cheap checks come first: the bounds of
 * {@linkcode PeerLimits}, then the trust policy on the identifier the history claims,
 * where that alone decides (`untrusted-peer` before any signature is verified). Then the
 * change history and secure-channel attestation against `remoteStaticKey`
 * ({@linkcode verifySecureChannelPeer}), each credential with the peer as subject
 * (failures are collected, not fatal), and the trust policy (`TrustError`
 * `untrusted-peer`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   encodeIdentityAndCredentials,
 *   issueCredential,
 *   trustCredentials,
 *   verifyIdentityAndCredentials,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const authority = await createIdentity(new Vault());
 * const peer = await createIdentity(new Vault());
 * const { key, attestation } = await peer.createSecureChannelKey();
 * const credential = await issueCredential({ issuer: authority, subject: peer.identity, attributes: { role: "ops" } });
 * const payload = encodeIdentityAndCredentials({
 *   changeHistory: peer.changeHistory, purposeKeyAttestation: attestation, credentials: [credential],
 * });
 * const verified = await verifyIdentityAndCredentials(payload, {
 *   remoteStaticKey: key.publicKey,
 *   authorities: [authority.identity],
 *   trustPolicy: trustCredentials({ authorities: [authority.identifier], attributes: { role: "ops" } }),
 * });
 * assert.equal(verified.identity.identifier, peer.identifier);
 * assert.equal(new TextDecoder().decode(verified.attributes.role), "ops");
 * ```
 */
export async function verifyIdentityAndCredentials(
  payload: IdentityAndCredentials | Uint8Array,
  options: VerifyIdentityAndCredentialsOptions,
): Promise<VerifiedPeer> {
  const decoded = payload instanceof Uint8Array ? decodeIdentityAndCredentials(payload) : payload;
  const clock = clockOf(options);
  const maxChanges = options.maxChanges ?? DEFAULT_MAX_CHANGES;
  checkCredentials(decoded.credentials, options);
  const policy = options.trustPolicy ?? { type: "everyone" };
  const claimed = await claimedIdentifier(decoded.changeHistory, { maxChanges });
  const withCredentials = options.authorities !== undefined && decoded.credentials.length > 0;
  if (decideOnIdentifier(policy, claimed, { withCredentials }) === false) {
    throw new TrustError("untrusted-peer", `trust policy rejects ${claimed}`);
  }
  const identity = await verifySecureChannelPeer({
    changeHistory: decoded.changeHistory,
    attestation: decoded.purposeKeyAttestation,
    remoteStaticKey: options.remoteStaticKey,
  }, { ...clock, maxChanges });
  const credentials: VerifiedCredential[] = [];
  const rejectedCredentials: (TrustError | DecodeError)[] = [];
  if (options.authorities !== undefined) {
    for (const credential of decoded.credentials) {
      try {
        credentials.push(
          await verifyCredential(credential, {
            ...clock,
            authorities: options.authorities,
            subject: identity.identifier,
          }),
        );
      } catch (error) {
        if (error instanceof TrustError || error instanceof DecodeError) {
          rejectedCredentials.push(error);
        } else throw error;
      }
    }
  }
  const attributes: Record<string, Uint8Array> = Object.fromEntries(
    credentials.flatMap((c) => Object.entries(c.attributes)),
  );
  if (!evaluateTrustPolicy(policy, { identifier: identity.identifier, attributes, credentials })) {
    throw new TrustError("untrusted-peer", `trust policy rejects ${identity.identifier}`);
  }
  return { identity, credentials, attributes, rejectedCredentials };
}

/** Options of {@linkcode verifyRefreshCredentials}. */
export interface VerifyRefreshCredentialsOptions extends ClockOptions, PeerLimits {
  /** The peer as verified so far: the refresh must be from the same identifier. */
  peer: Identity;
  /** Accepted credential issuers; without them only the identity is checked (cheaply). */
  authorities?: readonly Identity[];
}

/** A RefreshCredentials that verified. */
export interface VerifiedRefresh {
  /** The peer's identity (the known one when the history is unchanged). */
  identity: Identity;
  /** The credentials that verified (every one did). */
  credentials: VerifiedCredential[];
  /** Their attributes merged (later credentials win). */
  attributes: Record<string, Uint8Array>;
}

/**
 * Verifies a transport-phase RefreshCredentials (OCKAM_WIRE §3.6) from `options.peer`.
 * Cheap checks first: the {@linkcode PeerLimits}, then the identifier the history claims
 * (`TrustError` `wrong-identity` for another one). A history byte-equal to the known one is
 * not verified again; a new one (a rotation) is. Without authorities that is all; with
 * them every credential must verify with the peer as subject, or the refresh is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   encodeRefreshCredentials,
 *   issueCredential,
 *   verifyRefreshCredentials,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const authority = await createIdentity(new Vault());
 * const peer = await createIdentity(new Vault());
 * const credential = await issueCredential({ issuer: authority, subject: peer.identity, attributes: { role: "ops" } });
 * const body = encodeRefreshCredentials({ changeHistory: peer.changeHistory, credentials: [credential] });
 * const refreshed = await verifyRefreshCredentials(body, { peer: peer.identity, authorities: [authority.identity] });
 * assert.equal(new TextDecoder().decode(refreshed.attributes.role), "ops");
 * const other = await createIdentity(new Vault());
 * await assert.rejects(verifyRefreshCredentials(body, { peer: other.identity }), { code: "wrong-identity" });
 * ```
 */
export async function verifyRefreshCredentials(
  refresh: RefreshCredentials | Uint8Array,
  options: VerifyRefreshCredentialsOptions,
): Promise<VerifiedRefresh> {
  const decoded = refresh instanceof Uint8Array ? decodeRefreshCredentials(refresh) : refresh;
  const clock = clockOf(options);
  const maxChanges = options.maxChanges ?? DEFAULT_MAX_CHANGES;
  checkCredentials(decoded.credentials, options);
  const known = options.peer;
  let identity = known;
  if (!equalBytes(decoded.changeHistory, known.changeHistory)) {
    const claimed = await claimedIdentifier(decoded.changeHistory, { maxChanges });
    if (claimed !== known.identifier) {
      throw new TrustError("wrong-identity", "refreshed credentials name another identity");
    }
    if (options.authorities === undefined) return { identity, credentials: [], attributes: {} };
    identity = await importIdentity(decoded.changeHistory, {
      maxChanges,
      expectedIdentifier: known.identifier,
    });
  }
  if (options.authorities === undefined) return { identity, credentials: [], attributes: {} };
  const credentials: VerifiedCredential[] = [];
  for (const credential of decoded.credentials) {
    credentials.push(
      await verifyCredential(credential, {
        ...clock,
        authorities: options.authorities,
        subject: identity.identifier,
        ...(options.maxCredentialSize !== undefined
          ? { maxCredentialSize: options.maxCredentialSize }
          : {}),
      }),
    );
  }
  const attributes: Record<string, Uint8Array> = Object.fromEntries(
    credentials.flatMap((c) => Object.entries(c.attributes)),
  );
  return { identity, credentials, attributes };
}
