/**
 * Purpose keys and their attestations (OCKAM_WIRE §5): a secure-channel static key
 * (X25519) or a credential-signing key (Ed25519 / P-256), attested by the identity's
 * latest primary key over `SHA256(data)`.
 *
 * @module
 */
import { equalBytes } from "../_bytes.ts";
import { DecodeError, TrustError } from "../errors.ts";
import {
  arrayOf,
  bytesOf,
  type CborItem,
  type CborValue,
  encodeCbor,
  enumOf,
  parseCbor,
  uintOf,
} from "./_cbor.ts";
import {
  checkTimestamp,
  openVersionedData,
  sha256,
  signatureFromItem,
  signatureToCbor,
  timeOf,
  verifyHash,
  verifyingKeyFromItem,
  verifyingKeyToCbor,
} from "./_common.ts";
import { formatIdentifier, IDENTIFIER_LENGTH, parseIdentifier } from "./identifier.ts";
import { type Identity, importIdentity, type ImportIdentityOptions } from "./identity.ts";
import type { ClockOptions, TypedSignature, VerifyingKey } from "./types.ts";
import {
  DATA_VERSION,
  encodeVersionedData,
  PURPOSE_KEY_ATTESTATION_DATA_TYPE,
} from "./versioned_data.ts";

/** Length of an X25519 public key. */
const X25519_LENGTH = 32;

/** The attested key: Ockam's `PurposePublicKey`. */
export type PurposePublicKey =
  | {
    /** A Noise static key for secure channels. */
    type: "secure-channel";
    /** The 32-byte X25519 public key. */
    publicKey: Uint8Array;
  }
  | {
    /** A key that signs credentials. */
    type: "credential-signing";
    /** The Ed25519 or P-256 verifying key. */
    key: VerifyingKey;
  };

/** What an attestation says: Ockam's `PurposeKeyAttestationData`. */
export interface PurposeKeyAttestationData {
  /** Identifier (text form) of the identity whose key this is. */
  subject: string;
  /** Hash of the subject's latest change when the key was attested. */
  subjectLatestChangeHash: Uint8Array;
  /** The attested key. */
  publicKey: PurposePublicKey;
  /** Creation time (seconds). */
  createdAt: number;
  /** Expiry time (seconds). */
  expiresAt: number;
}

/** A signed attestation as it travels: `[bstr VersionedData, signature]`. */
export interface PurposeKeyAttestation {
  /** `VersionedData` (type 2) of the {@linkcode PurposeKeyAttestationData}: the signed bytes. */
  data: Uint8Array;
  /** Signature over `SHA256(data)` by the subject's latest primary key. */
  signature: TypedSignature;
}

function purposePublicKeyToCbor(key: PurposePublicKey): CborValue {
  if (key.type === "secure-channel") {
    if (!(key.publicKey instanceof Uint8Array) || key.publicKey.length !== X25519_LENGTH) {
      throw new TypeError(`a secure-channel key is ${X25519_LENGTH} bytes of X25519`);
    }
    return [0, [key.publicKey]];
  }
  if (key.type === "credential-signing") return [1, [verifyingKeyToCbor(key.key)]];
  throw new TypeError(`unknown purpose key type '${String((key as { type: unknown }).type)}'`);
}

function purposePublicKeyFromItem(item: CborItem | undefined): PurposePublicKey {
  const { index, fields } = enumOf(item, "PurposePublicKey");
  if (fields.length !== 1) {
    throw new DecodeError("bad-length", `PurposePublicKey: expected 1 field, got ${fields.length}`);
  }
  if (index === 0) {
    return {
      type: "secure-channel",
      publicKey: bytesOf(fields[0], "secure-channel key", X25519_LENGTH),
    };
  }
  if (index === 1) {
    return {
      type: "credential-signing",
      key: verifyingKeyFromItem(fields[0], "credential-signing key"),
    };
  }
  throw new DecodeError("unknown-key-kind", `PurposePublicKey: unknown variant ${index}`);
}

/**
 * The `VersionedData` bytes (an attestation's `data`) of `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   decodePurposeKeyAttestationData,
 *   encodePurposeKeyAttestationData,
 * } from "@sealroute/sealroute/identity";
 * const data = {
 *   subject: "I" + "11".repeat(32),
 *   subjectLatestChangeHash: new Uint8Array(32).fill(0x11),
 *   publicKey: { type: "secure-channel" as const, publicKey: new Uint8Array(32) },
 *   createdAt: 1700000000,
 *   expiresAt: 1800000000,
 * };
 * assert.deepEqual(decodePurposeKeyAttestationData(encodePurposeKeyAttestationData(data)), data);
 * ```
 */
export function encodePurposeKeyAttestationData(data: PurposeKeyAttestationData): Uint8Array {
  if (data.subjectLatestChangeHash.length !== IDENTIFIER_LENGTH) {
    throw new TypeError(`subjectLatestChangeHash must be ${IDENTIFIER_LENGTH} bytes`);
  }
  const inner = encodeCbor([
    parseIdentifier(data.subject),
    data.subjectLatestChangeHash,
    purposePublicKeyToCbor(data.publicKey),
    checkTimestamp(data.createdAt, "createdAt"),
    checkTimestamp(data.expiresAt, "expiresAt"),
  ]);
  return encodeVersionedData({
    version: DATA_VERSION,
    dataType: PURPOSE_KEY_ATTESTATION_DATA_TYPE,
    data: inner,
  });
}

/**
 * Decodes an attestation's `data`. Malformed bytes are a `DecodeError`; a version other
 * than 1 or a data type other than 2 is a `TrustError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePurposeKeyAttestationData } from "@sealroute/sealroute/identity";
 * assert.throws(
 *   () => decodePurposeKeyAttestationData(new Uint8Array([0x83, 1, 1, 0x40])),
 *   { name: "TrustError", code: "wrong-data-type" },
 * );
 * ```
 */
export function decodePurposeKeyAttestationData(data: Uint8Array): PurposeKeyAttestationData {
  const inner = openVersionedData(data, PURPOSE_KEY_ATTESTATION_DATA_TYPE, "attestation");
  const fields = arrayOf(
    parseCbor(inner, "PurposeKeyAttestationData"),
    "PurposeKeyAttestationData",
    5,
  );
  return {
    subject: formatIdentifier(bytesOf(fields[0], "subject", IDENTIFIER_LENGTH)),
    subjectLatestChangeHash: bytesOf(
      fields[1],
      "subject_latest_change_hash",
      IDENTIFIER_LENGTH,
    ),
    publicKey: purposePublicKeyFromItem(fields[2]),
    createdAt: uintOf(fields[3], "created_at"),
    expiresAt: uintOf(fields[4], "expires_at"),
  };
}

/** The CBOR value of an attestation (for embedding in larger structures). */
export function purposeKeyAttestationToCbor(attestation: PurposeKeyAttestation): CborValue {
  return [attestation.data, signatureToCbor(attestation.signature)];
}

/** Decodes an attestation item (for use inside larger structures). */
export function purposeKeyAttestationFromItem(item: CborItem): PurposeKeyAttestation {
  const [data, signature] = arrayOf(item, "PurposeKeyAttestation", 2);
  return {
    data: bytesOf(data, "PurposeKeyAttestation data"),
    signature: signatureFromItem(signature, "PurposeKeyAttestation signature"),
  };
}

/**
 * CBOR of a purpose-key attestation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   decodePurposeKeyAttestation,
 *   encodePurposeKeyAttestation,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault());
 * const { attestation } = await me.createSecureChannelKey();
 * const bytes = encodePurposeKeyAttestation(attestation);
 * assert.deepEqual(decodePurposeKeyAttestation(bytes), attestation);
 * ```
 */
export function encodePurposeKeyAttestation(attestation: PurposeKeyAttestation): Uint8Array {
  return encodeCbor(purposeKeyAttestationToCbor(attestation));
}

/**
 * Decodes a purpose-key attestation (without verifying it); malformed bytes are a
 * `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePurposeKeyAttestation } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodePurposeKeyAttestation(new Uint8Array([0x82, 0x40])), {
 *   name: "DecodeError",
 * });
 * ```
 */
export function decodePurposeKeyAttestation(bytes: Uint8Array): PurposeKeyAttestation {
  return purposeKeyAttestationFromItem(parseCbor(bytes, "PurposeKeyAttestation"));
}

/**
 * Verifies that `attestation` is a valid attestation by `subject` (OCKAM_WIRE §5.2) and
 * returns what it attests. Failures are `TrustError`s: `wrong-subject`, `stale-attestation`
 * (not made with the subject's latest change), `bad-signature`,
 * `signature-type-mismatch`, `outside-identity-window` (created before the latest
 * change's `attestations_valid_from` or expiring after its `attestations_valid_until`),
 * `not-yet-valid` (created more than `skew` seconds from now), `expired`; undecodable
 * bytes are a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, verifyPurposeKeyAttestation } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault(), { clock: () => 1_700_000_000 });
 * const { attestation, key } = await me.createSecureChannelKey({ clock: () => 1_700_000_000 });
 * const data = await verifyPurposeKeyAttestation(me.identity, attestation, {
 *   clock: () => 1_700_000_100,
 * });
 * assert.deepEqual(data.publicKey, { type: "secure-channel", publicKey: key.publicKey });
 * await assert.rejects(
 *   verifyPurposeKeyAttestation(me.identity, attestation, { clock: () => 1_600_000_000 + 10 ** 9 }),
 *   { code: "expired" },
 * );
 * ```
 */
export async function verifyPurposeKeyAttestation(
  subject: Identity,
  attestation: PurposeKeyAttestation | Uint8Array,
  options?: ClockOptions,
): Promise<PurposeKeyAttestationData> {
  const decoded = attestation instanceof Uint8Array
    ? decodePurposeKeyAttestation(attestation)
    : attestation;
  const data = decodePurposeKeyAttestationData(decoded.data);
  if (data.subject !== subject.identifier) {
    throw new TrustError(
      "wrong-subject",
      `attestation subject ${data.subject} is not ${subject.identifier}`,
    );
  }
  const latest = subject.latestChange;
  if (!equalBytes(data.subjectLatestChangeHash, latest.changeHash)) {
    throw new TrustError(
      "stale-attestation",
      "attestation does not reference the subject's latest change",
    );
  }
  const hash = await sha256(decoded.data);
  if (!await verifyHash(latest.data.primaryPublicKey, hash, decoded.signature, "attestation")) {
    throw new TrustError(
      "bad-signature",
      "attestation signature does not verify with the subject's primary key",
    );
  }
  if (
    data.expiresAt > latest.data.attestationsValidUntil ||
    data.createdAt < latest.data.attestationsValidFrom
  ) {
    throw new TrustError(
      "outside-identity-window",
      `attestation window ${data.createdAt}..${data.expiresAt} is outside the identity's ${latest.data.attestationsValidFrom}..${latest.data.attestationsValidUntil}`,
    );
  }
  const { now, skew } = timeOf(options);
  if (data.createdAt > now + skew) {
    throw new TrustError(
      "not-yet-valid",
      `attestation created at ${data.createdAt}, more than ${skew}s after now (${now})`,
    );
  }
  if (data.expiresAt < now) {
    throw new TrustError("expired", `attestation expired at ${data.expiresAt} (now ${now})`);
  }
  return data;
}

/** What a secure channel received from its peer during the handshake. */
export interface SecureChannelPeer {
  /** The peer's change history (the CBOR array, as received). */
  changeHistory: Uint8Array;
  /** The peer's secure-channel purpose-key attestation, decoded or as CBOR. */
  attestation: PurposeKeyAttestation | Uint8Array;
  /** The Noise remote static public key (`rs`). */
  remoteStaticKey: Uint8Array;
}

/**
 * The check a secure channel makes on a peer (OCKAM_WIRE §3.2 steps 1-3): imports and
 * verifies the peer's change history, verifies its purpose-key attestation with the peer
 * as subject, and requires the attested key to be a secure-channel key byte-equal to the
 * Noise remote static key. Returns the peer identity; failures are `TrustError`s
 * (`wrong-key-type` for a credential-signing key, `purpose-key-mismatch` for another
 * key, or any code of {@linkcode importIdentity} / {@linkcode verifyPurposeKeyAttestation})
 * or `DecodeError`s for undecodable bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, verifySecureChannelPeer } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const peer = await createIdentity(new Vault());
 * const { key, attestation } = await peer.createSecureChannelKey();
 * const identity = await verifySecureChannelPeer({
 *   changeHistory: peer.changeHistory,
 *   attestation,
 *   remoteStaticKey: key.publicKey,
 * });
 * assert.equal(identity.identifier, peer.identifier);
 * await assert.rejects(
 *   verifySecureChannelPeer({
 *     changeHistory: peer.changeHistory,
 *     attestation,
 *     remoteStaticKey: new Uint8Array(32).fill(9),
 *   }),
 *   { code: "purpose-key-mismatch" },
 * );
 * ```
 */
export async function verifySecureChannelPeer(
  peer: SecureChannelPeer,
  options?: ClockOptions & ImportIdentityOptions,
): Promise<Identity> {
  const { changeHistory, attestation, remoteStaticKey } = peer;
  const identity = await importIdentity(changeHistory, {
    ...(options?.maxChanges !== undefined ? { maxChanges: options.maxChanges } : {}),
    ...(options?.expectedIdentifier !== undefined
      ? { expectedIdentifier: options.expectedIdentifier }
      : {}),
  });
  const data = await verifyPurposeKeyAttestation(identity, attestation, options);
  if (data.publicKey.type !== "secure-channel") {
    throw new TrustError(
      "wrong-key-type",
      "the peer attested a credential-signing key, not a secure-channel key",
    );
  }
  if (!equalBytes(data.publicKey.publicKey, remoteStaticKey)) {
    throw new TrustError(
      "purpose-key-mismatch",
      "the attested secure-channel key is not the Noise remote static key",
    );
  }
  return identity;
}
