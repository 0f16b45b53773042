/**
 * Everything a secure channel checks on a handshake payload (OCKAM_WIRE §3.2): the
 * peer's identity and purpose key, its credentials, and the local trust policy.
 *
 * @module
 */
import { DecodeError, TrustError } from "../errors.ts";
import { decodeIdentityAndCredentials, type IdentityAndCredentials } from "./handshake_payload.ts";
import type { Identity } from "./identity.ts";
import { verifySecureChannelPeer } from "./purpose_key.ts";
import { evaluateTrustPolicy, type TrustPolicy } from "./trust_policy.ts";
import type { ClockOptions } from "./types.ts";
import { type VerifiedCredential, verifyCredential } from "./verify_credential.ts";

/** Options of {@linkcode verifyIdentityAndCredentials}. */
export interface VerifyIdentityAndCredentialsOptions extends ClockOptions {
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
 * Verifies a handshake payload: the change history and secure-channel attestation
 * against `remoteStaticKey` ({@linkcode verifySecureChannelPeer}), then each credential
 * with the peer as subject (failures are collected, not fatal), then the trust policy
 * (`TrustError` `untrusted-peer`).
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
  const clock: { clock?: () => number; skew?: number } = {};
  if (options.clock !== undefined) clock.clock = options.clock;
  if (options.skew !== undefined) clock.skew = options.skew;
  const identity = await verifySecureChannelPeer({
    changeHistory: decoded.changeHistory,
    attestation: decoded.purposeKeyAttestation,
    remoteStaticKey: options.remoteStaticKey,
  }, clock);
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
  const policy = options.trustPolicy ?? { type: "everyone" };
  if (!evaluateTrustPolicy(policy, { identifier: identity.identifier, attributes, credentials })) {
    throw new TrustError("untrusted-peer", `trust policy rejects ${identity.identifier}`);
  }
  return { identity, credentials, attributes, rejectedCredentials };
}
