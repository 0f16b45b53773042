// Helpers shared by the identity codecs and verifiers. Internal.
import { DecodeError, TrustError } from "../errors.ts";
import {
  loadSyncHash,
  type SignatureAlgorithm,
  type SigningKey,
  verifySignature,
} from "../vault/mod.ts";
import { bytesOf, type CborItem, type CborValue, enumOf } from "./_cbor.ts";
import type { Clock, TypedSignature, VerifyingKey } from "./types.ts";
import { DEFAULT_SKEW, systemClock } from "./types.ts";
import { DATA_VERSION, decodeVersionedData } from "./versioned_data.ts";

const ALGORITHMS: readonly SignatureAlgorithm[] = ["Ed25519", "ECDSA-P256"];
const PUBLIC_LENGTH = { Ed25519: 32, "ECDSA-P256": 65 } as const;

/** Enum index of an algorithm in Ockam's key and signature enums (0 Ed25519, 1 P-256). */
function indexOf(algorithm: SignatureAlgorithm): number {
  const index = ALGORITHMS.indexOf(algorithm);
  if (index < 0) throw new TypeError(`unknown signature algorithm '${String(algorithm)}'`);
  return index;
}

function algorithmAt(index: number, what: string): SignatureAlgorithm {
  const algorithm = ALGORITHMS[index];
  if (algorithm === undefined) {
    throw new DecodeError("unknown-key-kind", `${what}: unknown variant ${index}`);
  }
  return algorithm;
}

/** `[idx, [bstr]]` of a signature enum (ChangeSignature, CredentialSignature, ...). */
export function signatureToCbor(signature: TypedSignature): CborValue {
  if (!(signature.signature instanceof Uint8Array) || signature.signature.length !== 64) {
    throw new TypeError("a signature is 64 bytes");
  }
  return [indexOf(signature.algorithm), [signature.signature]];
}

/** Decodes a signature enum; unknown variants and wrong lengths are `DecodeError`s. */
export function signatureFromItem(item: CborItem | undefined, what: string): TypedSignature {
  const { index, fields } = enumOf(item, what);
  const algorithm = algorithmAt(index, what);
  if (fields.length !== 1) {
    throw new DecodeError("bad-length", `${what}: expected 1 field, got ${fields.length}`);
  }
  return { algorithm, signature: bytesOf(fields[0], what, 64) };
}

/** `[idx, [bstr]]` of a public-key enum (PrimaryPublicKey, CredentialVerifyingKey). */
export function verifyingKeyToCbor(key: VerifyingKey): CborValue {
  const index = indexOf(key.algorithm);
  if (
    !(key.publicKey instanceof Uint8Array) || key.publicKey.length !== PUBLIC_LENGTH[key.algorithm]
  ) {
    throw new TypeError(`a ${key.algorithm} public key is ${PUBLIC_LENGTH[key.algorithm]} bytes`);
  }
  return [index, [key.publicKey]];
}

/** Decodes a public-key enum, checking the fixed key length of its algorithm. */
export function verifyingKeyFromItem(item: CborItem | undefined, what: string): VerifyingKey {
  const { index, fields } = enumOf(item, what);
  const algorithm = algorithmAt(index, what);
  if (fields.length !== 1) {
    throw new DecodeError("bad-length", `${what}: expected 1 field, got ${fields.length}`);
  }
  const publicKey = bytesOf(fields[0], what, PUBLIC_LENGTH[algorithm]);
  if (algorithm === "ECDSA-P256" && publicKey[0] !== 0x04) {
    throw new DecodeError("bad-key", `${what}: P-256 key is not uncompressed SEC1`);
  }
  return { algorithm, publicKey };
}

/** SHA-256 of `data`: the message every identity signature signs (OCKAM_WIRE §4.1). */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  // Small inputs, many per handshake: the synchronous hash spares a WebCrypto thread hop.
  return (await loadSyncHash("SHA256")).digest(data);
}

/** Signs `hash` with `key`, tagging the signature with the key's algorithm. */
export async function signHash(key: SigningKey, hash: Uint8Array): Promise<TypedSignature> {
  return { algorithm: key.algorithm, signature: await key.sign(hash) };
}

/**
 * Whether `signature` over `hash` verifies under `key`. A signature whose type differs
 * from its key's is a `TrustError` `signature-type-mismatch` (OCKAM_WIRE §4.3).
 */
export async function verifyHash(
  key: VerifyingKey,
  hash: Uint8Array,
  signature: TypedSignature,
  what: string,
): Promise<boolean> {
  if (key.algorithm !== signature.algorithm) {
    throw new TrustError(
      "signature-type-mismatch",
      `${what}: ${signature.algorithm} signature for a ${key.algorithm} key`,
    );
  }
  return await verifySignature(key.algorithm, key.publicKey, hash, signature.signature);
}

/** The inner data of a `VersionedData`, checking version 1 and `dataType` (TrustError). */
export function openVersionedData(bytes: Uint8Array, dataType: number, what: string): Uint8Array {
  const v = decodeVersionedData(bytes);
  if (v.version !== DATA_VERSION) {
    throw new TrustError(
      "unsupported-version",
      `${what}: expected VersionedData version ${DATA_VERSION}, got ${v.version}`,
    );
  }
  if (v.dataType !== dataType) {
    throw new TrustError(
      "wrong-data-type",
      `${what}: expected data_type ${dataType}, got ${v.dataType}`,
    );
  }
  return v.data;
}

/** The current time and drift allowance from clock options. */
export function timeOf(options: { clock?: Clock; skew?: number } | undefined): {
  now: number;
  skew: number;
} {
  const now = (options?.clock ?? systemClock)();
  const skew = options?.skew ?? DEFAULT_SKEW;
  if (!Number.isFinite(now) || !Number.isFinite(skew) || skew < 0) {
    throw new TypeError("clock must return a finite number of seconds and skew be >= 0");
  }
  return { now: Math.floor(now), skew };
}

/** Checks a u64 timestamp a caller passed in (seconds, safe integer, >= 0). */
export function checkTimestamp(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer number of seconds`);
  }
  return value;
}
