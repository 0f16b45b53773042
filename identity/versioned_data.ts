/**
 * `VersionedData`: the signed envelope of changes, purpose-key attestations and
 * credentials (OCKAM_WIRE §4): CBOR `[version, data_type, bstr data]`.
 *
 * @module
 */
import { arrayOf, bytesOf, type CborItem, encodeCbor, parseCbor, uintOf } from "./_cbor.ts";

/** `data_type` of a change's `ChangeData`. */
export const CHANGE_DATA_TYPE = 1;
/** `data_type` of a `PurposeKeyAttestationData`. */
export const PURPOSE_KEY_ATTESTATION_DATA_TYPE = 2;
/** `data_type` of a `CredentialData`. */
export const CREDENTIAL_DATA_TYPE = 3;
/** The only `VersionedData` version Ockam writes and accepts. */
export const DATA_VERSION = 1;

/** A decoded `VersionedData`. */
export interface VersionedData {
  /** Format version (1). */
  version: number;
  /** What `data` holds: 1 change, 2 purpose-key attestation, 3 credential. */
  dataType: number;
  /** The CBOR of the inner structure. */
  data: Uint8Array;
}

/**
 * CBOR of a `VersionedData`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeVersionedData } from "@sealroute/sealroute/identity";
 * const bytes = encodeVersionedData({ version: 1, dataType: 3, data: new Uint8Array([0xf6]) });
 * assert.deepEqual(bytes, new Uint8Array([0x83, 1, 3, 0x41, 0xf6]));
 * ```
 */
export function encodeVersionedData(value: VersionedData): Uint8Array {
  for (const [name, n] of [["version", value.version], ["dataType", value.dataType]] as const) {
    if (!Number.isInteger(n) || n < 0 || n > 255) {
      throw new TypeError(`${name} must be a u8`);
    }
  }
  return encodeCbor([value.version, value.dataType, value.data]);
}

/**
 * Decodes a `VersionedData`; malformed bytes are a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVersionedData } from "@sealroute/sealroute/identity";
 * const v = decodeVersionedData(new Uint8Array([0x83, 1, 3, 0x41, 0xf6]));
 * assert.equal(v.dataType, 3);
 * ```
 */
export function decodeVersionedData(bytes: Uint8Array): VersionedData {
  return versionedDataFromItem(parseCbor(bytes, "VersionedData"));
}

function versionedDataFromItem(item: CborItem): VersionedData {
  const [version, dataType, data] = arrayOf(item, "VersionedData", 3);
  return {
    version: uintOf(version, "VersionedData version", 255),
    dataType: uintOf(dataType, "VersionedData data_type", 255),
    data: bytesOf(data, "VersionedData data"),
  };
}
