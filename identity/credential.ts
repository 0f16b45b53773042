/**
 * The credential codec (OCKAM_WIRE §6): `CredentialAndPurposeKey` =
 * `[Credential, PurposeKeyAttestation]`, `Credential` = `[bstr data, signature]`, and
 * `data` a `VersionedData` (type 3) of `CredentialData`
 * `[subject?, subject_latest_change_hash?, [schema, {bstr: bstr}], created_at, expires_at]`
 * with the attribute map in bytewise key order. The text form is lowercase hex.
 *
 * @module
 */
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import {
  arrayOf,
  bytesOf,
  type CborItem,
  type CborValue,
  encodeCbor,
  isAbsent,
  parseCbor,
  uintOf,
} from "./_cbor.ts";
import {
  checkTimestamp,
  openVersionedData,
  signatureFromItem,
  signatureToCbor,
} from "./_common.ts";
import { formatIdentifier, IDENTIFIER_LENGTH, parseIdentifier } from "./identifier.ts";
import {
  type PurposeKeyAttestation,
  purposeKeyAttestationFromItem,
  purposeKeyAttestationToCbor,
} from "./purpose_key.ts";
import type { TypedSignature } from "./types.ts";
import { CREDENTIAL_DATA_TYPE, DATA_VERSION, encodeVersionedData } from "./versioned_data.ts";

/** Attribute values as issued: bytes, or text encoded as UTF-8. */
export type AttributeInput = Readonly<Record<string, Uint8Array | string>>;

/** What a credential says: Ockam's `CredentialData`. */
export interface CredentialData {
  /** Identifier of the subject (Ockam always sets it; verification requires it). */
  subject: string | null;
  /** Hash of the subject's latest change at issue time. */
  subjectLatestChangeHash: Uint8Array | null;
  /** `CredentialSchemaIdentifier` (not checked by Ockam; 0 by default). */
  schema: number;
  /** Attribute name → value bytes. */
  attributes: Record<string, Uint8Array>;
  /** Issue time (seconds). */
  createdAt: number;
  /** Expiry time (seconds). */
  expiresAt: number;
}

/** A signed credential: `data` is the `VersionedData` CBOR the signature covers. */
export interface Credential {
  /** `VersionedData` (type 3) of the {@linkcode CredentialData}. */
  data: Uint8Array;
  /** Signature over `SHA256(data)` by the issuer's credential-signing purpose key. */
  signature: TypedSignature;
}

/** A credential with the attestation of the purpose key that signed it. */
export interface CredentialAndPurposeKey {
  /** The credential. */
  credential: Credential;
  /** The issuer's attestation of its credential-signing key. */
  purposeKeyAttestation: PurposeKeyAttestation;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** The attribute map (UTF-8 names → bytes), ready for bytewise-ordered encoding. */
function attributesToCbor(attributes: AttributeInput): Map<CborValue, CborValue> {
  const map = new Map<CborValue, CborValue>();
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value !== "string" && !(value instanceof Uint8Array)) {
      throw new TypeError(`attribute '${name}' must be a string or a Uint8Array`);
    }
    map.set(utf8.encode(name), typeof value === "string" ? utf8.encode(value) : value);
  }
  return map;
}

function attributesFromItem(item: CborItem | undefined): Record<string, Uint8Array> {
  if (item?.kind !== "map") {
    throw new DecodeError("unexpected-type", `attributes: expected a map, got ${item?.kind}`);
  }
  const entries: [string, Uint8Array][] = [];
  const seen = new Set<string>();
  for (const [key, value] of item.entries) {
    let name: string;
    try {
      name = utf8Strict.decode(bytesOf(key, "attribute name"));
    } catch (cause) {
      if (cause instanceof DecodeError) throw cause;
      throw new DecodeError("bad-attribute-name", "attribute name is not UTF-8");
    }
    if (seen.has(name)) {
      throw new DecodeError("duplicate-attribute", `attribute '${name}' appears twice`);
    }
    seen.add(name);
    entries.push([name, bytesOf(value, `attribute '${name}'`)]);
  }
  // Object.fromEntries defines own properties, so a name like "__proto__" is safe.
  return Object.fromEntries(entries);
}

/**
 * Normalises attribute input (strings become UTF-8 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { attributeBytes } from "@sealroute/sealroute/identity";
 * assert.deepEqual(attributeBytes({ role: "admin" }), { role: new TextEncoder().encode("admin") });
 * ```
 */
export function attributeBytes(attributes: AttributeInput): Record<string, Uint8Array> {
  return Object.fromEntries(
    Object.entries(attributes).map((
      [name, value],
    ) => [name, typeof value === "string" ? utf8.encode(value) : value.slice()]),
  );
}

/**
 * The `VersionedData` bytes (a credential's `data`) of `data`. Attribute keys are
 * written in bytewise order, as Ockam's `BTreeMap`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCredentialData, encodeCredentialData } from "@sealroute/sealroute/identity";
 * const data = {
 *   subject: "I" + "22".repeat(32),
 *   subjectLatestChangeHash: new Uint8Array(32).fill(0x22),
 *   schema: 0,
 *   attributes: { role: new TextEncoder().encode("operator") },
 *   createdAt: 1700000000,
 *   expiresAt: 1700003600,
 * };
 * assert.deepEqual(decodeCredentialData(encodeCredentialData(data)), data);
 * ```
 */
export function encodeCredentialData(
  data: Omit<CredentialData, "attributes"> & { attributes: AttributeInput },
): Uint8Array {
  if (
    data.subjectLatestChangeHash !== null &&
    data.subjectLatestChangeHash.length !== IDENTIFIER_LENGTH
  ) {
    throw new TypeError(`subjectLatestChangeHash must be ${IDENTIFIER_LENGTH} bytes or null`);
  }
  const inner = encodeCbor([
    data.subject === null ? null : parseIdentifier(data.subject),
    data.subjectLatestChangeHash,
    [checkTimestamp(data.schema, "schema"), attributesToCbor(data.attributes)],
    checkTimestamp(data.createdAt, "createdAt"),
    checkTimestamp(data.expiresAt, "expiresAt"),
  ]);
  return encodeVersionedData({
    version: DATA_VERSION,
    dataType: CREDENTIAL_DATA_TYPE,
    data: inner,
  });
}

/**
 * Decodes a credential's `data`. Malformed bytes (including duplicate or non-UTF-8
 * attribute names) are a `DecodeError`; a version other than 1 or a data type other than
 * 3 is a `TrustError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCredentialData } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodeCredentialData(new Uint8Array([0x83, 1, 3, 0x41, 0x80])), {
 *   code: "bad-length",
 * });
 * ```
 */
export function decodeCredentialData(data: Uint8Array): CredentialData {
  const inner = openVersionedData(data, CREDENTIAL_DATA_TYPE, "credential");
  const fields = arrayOf(parseCbor(inner, "CredentialData"), "CredentialData", 5);
  const [schema, map] = arrayOf(fields[2]!, "Attributes", 2);
  return {
    subject: isAbsent(fields[0])
      ? null
      : formatIdentifier(bytesOf(fields[0], "subject", IDENTIFIER_LENGTH)),
    subjectLatestChangeHash: isAbsent(fields[1])
      ? null
      : bytesOf(fields[1], "subject_latest_change_hash", IDENTIFIER_LENGTH),
    schema: uintOf(schema, "schema"),
    attributes: attributesFromItem(map),
    createdAt: uintOf(fields[3], "created_at"),
    expiresAt: uintOf(fields[4], "expires_at"),
  };
}

/** CBOR value of a `CredentialAndPurposeKey` (for embedding). */
export function credentialAndPurposeKeyToCbor(value: CredentialAndPurposeKey): CborValue {
  return [
    [value.credential.data, signatureToCbor(value.credential.signature)],
    purposeKeyAttestationToCbor(value.purposeKeyAttestation),
  ];
}

/** Decodes a `CredentialAndPurposeKey` item (for embedding). */
export function credentialAndPurposeKeyFromItem(item: CborItem): CredentialAndPurposeKey {
  const [credential, attestation] = arrayOf(item, "CredentialAndPurposeKey", 2);
  const [data, signature] = arrayOf(credential!, "Credential", 2);
  return {
    credential: {
      data: bytesOf(data, "Credential data"),
      signature: signatureFromItem(signature, "Credential signature"),
    },
    purposeKeyAttestation: purposeKeyAttestationFromItem(attestation!),
  };
}

/**
 * CBOR of a credential with its purpose-key attestation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   decodeCredential,
 *   encodeCredential,
 *   issueCredential,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const authority = await createIdentity(new Vault());
 * const member = await createIdentity(new Vault());
 * const credential = await issueCredential({
 *   issuer: authority,
 *   subject: member.identity,
 *   attributes: { role: "member" },
 * });
 * assert.deepEqual(decodeCredential(encodeCredential(credential)), credential);
 * ```
 */
export function encodeCredential(credential: CredentialAndPurposeKey): Uint8Array {
  return encodeCbor(credentialAndPurposeKeyToCbor(credential));
}

/**
 * Decodes a credential with its purpose-key attestation, from CBOR bytes or from the hex
 * text form; malformed input is a `DecodeError`. Does not verify.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCredential } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodeCredential("zz"), { name: "DecodeError", code: "bad-hex" });
 * ```
 */
export function decodeCredential(input: Uint8Array | string): CredentialAndPurposeKey {
  const bytes = typeof input === "string" ? hexBytes(input) : input;
  return credentialAndPurposeKeyFromItem(parseCbor(bytes, "CredentialAndPurposeKey"));
}

/**
 * The text form of a credential: lowercase hex of its CBOR (Ockam's `encode_as_string`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, credentialToHex, decodeCredential, issueCredential } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const authority = await createIdentity(new Vault());
 * const credential = await issueCredential({ issuer: authority, subject: authority.identity, attributes: {} });
 * assert.deepEqual(decodeCredential(credentialToHex(credential)), credential);
 * ```
 */
export function credentialToHex(credential: CredentialAndPurposeKey): string {
  return toHex(encodeCredential(credential));
}

function hexBytes(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(trimmed)) {
    throw new DecodeError("bad-hex", "expected an even number of hex characters");
  }
  return fromHex(trimmed);
}
