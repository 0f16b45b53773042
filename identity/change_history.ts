/**
 * The change history codec (OCKAM_WIRE §4): `ChangeHistory` = CBOR array of `Change`
 * `[bstr data, ChangeSignature, ChangeSignature?]`, where `data` is a `VersionedData`
 * (type 1) holding `ChangeData`
 * `[previous_change?, PrimaryPublicKey, revoke_all_purpose_keys, valid_from, valid_until]`.
 *
 * These functions only encode and decode; {@linkcode importIdentity} verifies.
 *
 * @module
 */
import { DecodeError } from "../errors.ts";
import {
  arrayHeader,
  arrayOf,
  boolOf,
  bytesOf,
  type CborItem,
  encodeCbor,
  isAbsent,
  parseCbor,
  uintOf,
} from "./_cbor.ts";
import {
  openVersionedData,
  signatureFromItem,
  signatureToCbor,
  verifyingKeyFromItem,
  verifyingKeyToCbor,
} from "./_common.ts";
import { IDENTIFIER_LENGTH } from "./identifier.ts";
import type { TypedSignature, VerifyingKey } from "./types.ts";
import { CHANGE_DATA_TYPE, DATA_VERSION, encodeVersionedData } from "./versioned_data.ts";

/** The content of one change: the new primary key and its attestation window. */
export interface ChangeData {
  /** Hash of the previous change; `null` in the first change. */
  previousChange: Uint8Array | null;
  /** The primary public key from this change on. */
  primaryPublicKey: VerifyingKey;
  /** Whether purpose keys attested by earlier primary keys are revoked. */
  revokeAllPurposeKeys: boolean;
  /** Start of the window in which attestations by this key are valid (seconds). */
  attestationsValidFrom: number;
  /** End of that window (seconds). */
  attestationsValidUntil: number;
}

/** One signed change as it travels. */
export interface Change {
  /** `VersionedData` CBOR (type 1) of the {@linkcode ChangeData}; the bytes that are hashed. */
  data: Uint8Array;
  /** Signature over `SHA256(data)` by the change's own primary key. */
  signature: TypedSignature;
  /** Signature over the same hash by the previous change's key (absent in the first change). */
  previousSignature?: TypedSignature;
}

/**
 * The `VersionedData` bytes (a {@linkcode Change}'s `data`) of `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChangeData, encodeChangeData } from "@sealroute/sealroute/identity";
 * const data = {
 *   previousChange: null,
 *   primaryPublicKey: { algorithm: "Ed25519" as const, publicKey: new Uint8Array(32) },
 *   revokeAllPurposeKeys: false,
 *   attestationsValidFrom: 1700000000,
 *   attestationsValidUntil: 2000000000,
 * };
 * assert.deepEqual(decodeChangeData(encodeChangeData(data)), data);
 * ```
 */
export function encodeChangeData(data: ChangeData): Uint8Array {
  if (data.previousChange !== null && data.previousChange.length !== IDENTIFIER_LENGTH) {
    throw new TypeError(`previousChange must be ${IDENTIFIER_LENGTH} bytes or null`);
  }
  for (
    const [name, n] of [
      ["attestationsValidFrom", data.attestationsValidFrom],
      ["attestationsValidUntil", data.attestationsValidUntil],
    ] as const
  ) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a u64 seconds`);
  }
  const inner = encodeCbor([
    data.previousChange,
    verifyingKeyToCbor(data.primaryPublicKey),
    data.revokeAllPurposeKeys,
    data.attestationsValidFrom,
    data.attestationsValidUntil,
  ]);
  return encodeVersionedData({ version: DATA_VERSION, dataType: CHANGE_DATA_TYPE, data: inner });
}

/**
 * Decodes a change's `data` (`VersionedData` type 1 holding `ChangeData`). Malformed
 * bytes are a `DecodeError`; a version other than 1 or another data type a `TrustError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChangeData } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodeChangeData(new Uint8Array([0x80])), { name: "DecodeError" });
 * ```
 */
export function decodeChangeData(data: Uint8Array): ChangeData {
  const inner = openVersionedData(data, CHANGE_DATA_TYPE, "change");
  const fields = arrayOf(parseCbor(inner, "ChangeData"), "ChangeData", 5);
  const previous = fields[0];
  return {
    previousChange: isAbsent(previous)
      ? null
      : bytesOf(previous, "previous_change", IDENTIFIER_LENGTH),
    primaryPublicKey: verifyingKeyFromItem(fields[1], "primary_public_key"),
    revokeAllPurposeKeys: boolOf(fields[2], "revoke_all_purpose_keys"),
    attestationsValidFrom: uintOf(fields[3], "attestations_valid_from"),
    attestationsValidUntil: uintOf(fields[4], "attestations_valid_until"),
  };
}

/**
 * CBOR of a change history; the first change carries no `previousSignature`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChangeHistory, encodeChangeHistory } from "@sealroute/sealroute/identity";
 * const hex = "81825837830101583285f68200815820f405e06d988fa8039cce1cd0ae607e46847c1b64bc459ca9d89dd9b21ae30681f41a654cebe91a7818eee98200815840494c9b70e8a9ad5593fceb478f722a513b4bd39fa70f4265d584253bc24617d0eb498ce532273f6d0d5326921e013696fce57c20cc6c4008f74b816810f0b009";
 * const bytes = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
 * assert.deepEqual(encodeChangeHistory(decodeChangeHistory(bytes)), bytes);
 * ```
 */
export function encodeChangeHistory(changes: readonly Change[]): Uint8Array {
  const parts = changes.map((change) =>
    encodeCbor(
      change.previousSignature === undefined ? [change.data, signatureToCbor(change.signature)] : [
        change.data,
        signatureToCbor(change.signature),
        signatureToCbor(change.previousSignature),
      ],
    )
  );
  const header = arrayHeader(parts.length);
  const out = new Uint8Array(header.length + parts.reduce((n, p) => n + p.length, 0));
  out.set(header);
  let offset = header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Decodes a change history without verifying it; malformed bytes (not CBOR, wrong shapes,
 * unknown signature kinds, wrong lengths, trailing bytes) are a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChangeHistory } from "@sealroute/sealroute/identity";
 * assert.deepEqual(decodeChangeHistory(new Uint8Array([0x80])), []);
 * assert.throws(() => decodeChangeHistory(new Uint8Array([0x81, 0x01])), { code: "unexpected-type" });
 * ```
 */
export function decodeChangeHistory(bytes: Uint8Array): Change[] {
  return changeHistoryFromItem(parseCbor(bytes, "ChangeHistory"));
}

/** Decodes a change history array item (also used inside handshake payloads). */
export function changeHistoryFromItem(item: CborItem): Change[] {
  if (item.kind !== "array") {
    throw new DecodeError("unexpected-type", `ChangeHistory: expected an array, got ${item.kind}`);
  }
  return item.items.map((changeItem, i) => {
    const what = `change ${i}`;
    const [data, signature, previous] = arrayOf(changeItem, what, 2, 3);
    const change: Change = {
      data: bytesOf(data, `${what} data`),
      signature: signatureFromItem(signature, `${what} signature`),
    };
    if (!isAbsent(previous)) {
      change.previousSignature = signatureFromItem(previous, `${what} previous_signature`);
    }
    return change;
  });
}
