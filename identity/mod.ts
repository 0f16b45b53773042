/**
 * Identities, purpose keys, credentials and trust policies, byte-compatible with Ockam
 * (`ockam_identity`, `ockam_abac`).
 *
 * - An identity is a signed **change history**: each change names a primary public key
 *   (Ed25519 or ECDSA P-256) and is signed by it and, after a rotation, by the previous
 *   key. The **identifier** is the hash of the first change (`"I"` + 64 hex).
 *   {@linkcode importIdentity} verifies a history; {@linkcode createIdentity} and
 *   {@linkcode LocalIdentity.rotate} make and extend one; {@linkcode compareHistories}
 *   relates two histories of one identity.
 * - **Purpose keys** are attested by the primary key: an X25519 secure-channel key (the
 *   Noise static key) and a credential-signing key. {@linkcode verifySecureChannelPeer}
 *   is the check a secure channel makes on its peer; {@linkcode encodeIdentityAndCredentials}
 *   is the handshake payload.
 * - **Credentials** are attributes signed by an authority's credential-signing key:
 *   {@linkcode issueCredential}, {@linkcode verifyCredential}.
 * - **Trust policies** ({@linkcode trustEveryone}, {@linkcode trustIdentifiers},
 *   {@linkcode trustCredentials}, {@linkcode allOf}, {@linkcode anyOf}) decide which
 *   peers a channel accepts; **ABAC** policies ({@linkcode AttributePolicy}, Ockam policy
 *   expressions via {@linkcode parseExpr} / {@linkcode parsePolicyText}) decide what they
 *   may do.
 * - **Stores**: {@linkcode loadOrCreateIdentity} keeps an identity across restarts in an
 *   {@linkcode IdentityStore} ({@linkcode MemoryIdentityStore}; a file store is in
 *   `@sealroute/sealroute/identity/deno`).
 *
 * Change timestamps are not compared with the current time; attestations and
 * credentials are checked against an injectable clock (seconds) with 60 s of allowed
 * drift. Undecodable bytes are `DecodeError`s, failed checks `TrustError`s, each with a
 * stable `code`.
 *
 * @example Authenticate a peer and check its credential
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   issueCredential,
 *   verifyCredential,
 *   verifySecureChannelPeer,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * const authority = await createIdentity(new Vault());
 * const device = await createIdentity(new Vault());
 * const { key, attestation } = await device.createSecureChannelKey();
 *
 * // What the other end of a secure channel checks:
 * const peer = await verifySecureChannelPeer({
 *   changeHistory: device.changeHistory,
 *   attestation,
 *   remoteStaticKey: key.publicKey,
 * });
 * const credential = await issueCredential({
 *   issuer: authority,
 *   subject: peer,
 *   attributes: { role: "sensor" },
 * });
 * const verified = await verifyCredential(credential, {
 *   authorities: [authority.identity],
 *   subject: peer.identifier,
 * });
 * assert.equal(new TextDecoder().decode(verified.attributes.role), "sensor");
 * ```
 *
 * @module
 */
export {
  allOf,
  anyOf,
  evaluateTrustPolicy,
  trustCredentials,
  type TrustCredentialsOptions,
  trustEveryone,
  trustIdentifiers,
  type TrustPolicy,
  type TrustSubject,
} from "./trust_policy.ts";
export {
  type AttributePolicy,
  attributePolicyToExpr,
  evaluateAttributePolicy,
} from "./attribute_policy.ts";
export {
  type BooleanExpr,
  booleanExprToExpr,
  parseBooleanExpr,
  parsePolicyText,
  printBooleanExpr,
} from "./boolean_expr.ts";
export {
  type Change,
  type ChangeData,
  decodeChangeData,
  decodeChangeHistory,
  encodeChangeData,
  encodeChangeHistory,
} from "./change_history.ts";
export {
  attributeBytes,
  type AttributeInput,
  type Credential,
  type CredentialAndPurposeKey,
  type CredentialData,
  credentialToHex,
  decodeCredential,
  decodeCredentialData,
  encodeCredential,
  encodeCredentialData,
} from "./credential.ts";
export { decodeExpr, encodeExpr, type Expr, MAX_EXPR_DEPTH, printExpr } from "./expr.ts";
export {
  abacEnvironment,
  type AbacSubject,
  type Env,
  evalExpr,
  evaluateAbacPolicy,
} from "./expr_eval.ts";
export { OPERATORS, parseExpr } from "./expr_parse.ts";
export {
  decodeIdentityAndCredentials,
  decodeRefreshCredentials,
  encodeIdentityAndCredentials,
  encodeRefreshCredentials,
  type IdentityAndCredentials,
  type RefreshCredentials,
} from "./handshake_payload.ts";
export {
  formatIdentifier,
  IDENTIFIER_LENGTH,
  isIdentifier,
  parseIdentifier,
} from "./identifier.ts";
export {
  compareHistories,
  type HistoryComparison,
  Identity,
  importIdentity,
  type ImportIdentityOptions,
  type VerifiedChange,
} from "./identity.ts";
export {
  type IdentityRecord,
  type IdentityStore,
  MemoryIdentityStore,
  type StoredPurposeKey,
} from "./identity_store.ts";
export {
  DEFAULT_CREDENTIAL_TTL,
  issueCredential,
  type IssueCredentialOptions,
} from "./issue_credential.ts";
export {
  createIdentity,
  type CreateIdentityOptions,
  type CredentialKey,
  type CredentialKeyOptions,
  DEFAULT_IDENTITY_TTL,
  DEFAULT_PURPOSE_KEY_TTL,
  loadOrCreateIdentity,
  type LoadOrCreateIdentityOptions,
  LocalIdentity,
  openIdentity,
  type OpenIdentityOptions,
  type PrimaryKeyOptions,
  type PurposeKey,
  type PurposeKeyOptions,
  type RotateOptions,
  type SecureChannelKey,
} from "./local_identity.ts";
export {
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  encodePurposeKeyAttestation,
  encodePurposeKeyAttestationData,
  type PurposeKeyAttestation,
  type PurposeKeyAttestationData,
  type PurposePublicKey,
  type SecureChannelPeer,
  verifyPurposeKeyAttestation,
  verifySecureChannelPeer,
} from "./purpose_key.ts";
export {
  type Clock,
  type ClockOptions,
  DEFAULT_SKEW,
  systemClock,
  type TypedSignature,
  type VerifyingKey,
} from "./types.ts";
export {
  type VerifiedCredential,
  verifyCredential,
  type VerifyCredentialOptions,
} from "./verify_credential.ts";
export {
  DEFAULT_MAX_CREDENTIALS,
  type PeerLimits,
  type VerifiedPeer,
  type VerifiedRefresh,
  verifyIdentityAndCredentials,
  type VerifyIdentityAndCredentialsOptions,
  verifyRefreshCredentials,
  type VerifyRefreshCredentialsOptions,
} from "./verify_peer.ts";
export {
  CHANGE_DATA_TYPE,
  CREDENTIAL_DATA_TYPE,
  DATA_VERSION,
  decodeVersionedData,
  encodeVersionedData,
  PURPOSE_KEY_ATTESTATION_DATA_TYPE,
  type VersionedData,
} from "./versioned_data.ts";
export { DecodeError, SealrouteError, TrustError } from "../errors.ts";
export type {
  CreateKeyOptions,
  DhAlgorithm,
  KeyAgreementKey,
  SignatureAlgorithm,
  SigningKey,
  Vault,
  VaultKey,
} from "../vault/mod.ts";
