/**
 * Diffie-Hellman key agreement: X25519 and X448, on WebCrypto with a lazily loaded
 * `@noble/curves` fallback where the runtime's WebCrypto lacks the curve, and X25519 on a
 * native implementation where a runtime adapter installed one (`installNativeCurves`).
 *
 * @module
 */
import { buf } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import { loadNoble, pickBackend } from "./backend.ts";
import {
  type CurveBackendOptions,
  nativeCurvesFor,
  type NativeX25519Key,
  portableOptions,
  type SyncKeyAgreementKey,
} from "./native_curves.ts";
import {
  checkKeyLength,
  exportPrivate,
  generatePair,
  importPrivate,
  PUBLIC_LENGTH,
} from "./_pkcs8.ts";

/** A key-agreement algorithm by name. */
export type DhAlgorithm = "X25519" | "X448";

/** A private key that agrees on shared secrets; its secret is not reachable through it. */
export interface KeyAgreementKey {
  /** The curve. */
  readonly algorithm: DhAlgorithm;
  /** The public key (32 bytes for X25519, 56 for X448). */
  readonly publicKey: Uint8Array;
  /** The shared secret with `peerPublicKey`; a malformed or low-order key is a `VaultError`. */
  deriveSharedSecret(peerPublicKey: Uint8Array): Promise<Uint8Array>;
}

/** A key-agreement key whose secret may be exported (only when created extractable). */
export interface ExportableKeyAgreementKey extends KeyAgreementKey {
  /** The raw private key; a `VaultError` unless the key was created extractable. */
  exportPrivateKey(): Promise<Uint8Array>;
}

/** Options for creating keys. */
export interface KeyOptions extends CurveBackendOptions {
  /** Allow {@linkcode ExportableKeyAgreementKey.exportPrivateKey} (for persisted keys). Default false. */
  extractable?: boolean;
}

function checkAlgorithm(algorithm: DhAlgorithm): void {
  if (algorithm !== "X25519" && algorithm !== "X448") {
    throw new VaultError(
      "unknown-algorithm",
      `unknown key agreement '${String(algorithm)}'`,
    );
  }
}

function checkPublic(algorithm: DhAlgorithm, publicKey: Uint8Array): void {
  checkKeyLength(algorithm, "public", publicKey);
}

function notExtractable(): VaultError {
  return new VaultError(
    "not-extractable",
    "this key was not created extractable",
  );
}

// A handshake agrees with the same peer key more than once (Noise XX: the peer's
// ephemeral twice per side), so the last few imported public keys are kept, as
// promises so concurrent agreements share one import. Public keys only: nothing secret.
const PUBLIC_CACHE_SIZE = 4;
const publicCache = new Map<string, Promise<CryptoKey>>();

function importPublic(algorithm: DhAlgorithm, publicKey: Uint8Array): Promise<CryptoKey> {
  const id = algorithm + String.fromCharCode(...publicKey);
  const cached = publicCache.get(id);
  if (cached) return cached;
  const imported = crypto.subtle.importKey("raw", buf(publicKey), { name: algorithm }, true, []);
  publicCache.set(id, imported);
  if (publicCache.size > PUBLIC_CACHE_SIZE) {
    publicCache.delete(publicCache.keys().next().value!);
  }
  // A key that does not import is not remembered.
  imported.catch(() => {
    if (publicCache.get(id) === imported) publicCache.delete(id);
  });
  return imported;
}

class WebCryptoDhKey implements ExportableKeyAgreementKey {
  readonly algorithm: DhAlgorithm;
  readonly publicKey: Uint8Array;
  #key: CryptoKey;
  constructor(algorithm: DhAlgorithm, key: CryptoKey, publicKey: Uint8Array) {
    this.algorithm = algorithm;
    this.#key = key;
    this.publicKey = publicKey;
  }
  async deriveSharedSecret(peerPublicKey: Uint8Array): Promise<Uint8Array> {
    checkPublic(this.algorithm, peerPublicKey);
    try {
      const peer = await importPublic(this.algorithm, peerPublicKey);
      const bits = PUBLIC_LENGTH[this.algorithm]! * 8;
      return new Uint8Array(
        await crypto.subtle.deriveBits(
          { name: this.algorithm, public: peer },
          this.#key,
          bits,
        ),
      );
    } catch (cause) {
      throw new VaultError(
        "bad-public-key",
        `${this.algorithm} agreement failed`,
        { cause },
      );
    }
  }
  exportPrivateKey(): Promise<Uint8Array> {
    if (!this.#key.extractable) return Promise.reject(notExtractable());
    return exportPrivate(this.#key);
  }
  toString(): string {
    return `KeyAgreementKey(${this.algorithm})`;
  }
}

class NobleDhKey implements ExportableKeyAgreementKey {
  readonly algorithm: DhAlgorithm;
  readonly publicKey: Uint8Array;
  #secret: Uint8Array;
  #extractable: boolean;
  constructor(
    algorithm: DhAlgorithm,
    secret: Uint8Array,
    publicKey: Uint8Array,
    extractable: boolean,
  ) {
    this.algorithm = algorithm;
    this.#secret = secret.slice();
    this.publicKey = publicKey;
    this.#extractable = extractable;
  }
  async deriveSharedSecret(peerPublicKey: Uint8Array): Promise<Uint8Array> {
    checkPublic(this.algorithm, peerPublicKey);
    const curve = (await loadNoble()).curves[this.algorithm];
    try {
      return curve.getSharedSecret(this.#secret, peerPublicKey);
    } catch (cause) {
      throw new VaultError(
        "bad-public-key",
        `${this.algorithm} agreement failed`,
        { cause },
      );
    }
  }
  exportPrivateKey(): Promise<Uint8Array> {
    return this.#extractable
      ? Promise.resolve(this.#secret.slice())
      : Promise.reject(notExtractable());
  }
  toString(): string {
    return `KeyAgreementKey(${this.algorithm})`;
  }
}

/** X25519 on an installed native implementation (see `installNativeCurves`). */
class NativeDhKey implements ExportableKeyAgreementKey, SyncKeyAgreementKey {
  readonly algorithm = "X25519";
  readonly publicKey: Uint8Array;
  readonly #key: NativeX25519Key;
  readonly #extractable: boolean;
  constructor(key: NativeX25519Key, extractable: boolean) {
    this.#key = key;
    this.publicKey = key.publicKey;
    this.#extractable = extractable;
  }
  deriveSharedSecretSync(peerPublicKey: Uint8Array): Uint8Array {
    checkPublic(this.algorithm, peerPublicKey);
    try {
      return this.#key.derive(peerPublicKey);
    } catch (cause) {
      throw new VaultError("bad-public-key", `${this.algorithm} agreement failed`, { cause });
    }
  }
  deriveSharedSecret(peerPublicKey: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.deriveSharedSecretSync(peerPublicKey));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  exportPrivateKey(): Promise<Uint8Array> {
    return this.#extractable
      ? Promise.resolve(this.#key.exportPrivate())
      : Promise.reject(notExtractable());
  }
  toString(): string {
    return `KeyAgreementKey(${this.algorithm}, native)`;
  }
}

/**
 * Generates a key-agreement key; non-extractable unless `options.extractable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyAgreementKey } from "@sealroute/sealroute/vault";
 * const a = await generateKeyAgreementKey("X25519");
 * const b = await generateKeyAgreementKey("X25519");
 * const ab = await a.deriveSharedSecret(b.publicKey);
 * const ba = await b.deriveSharedSecret(a.publicKey);
 * assert(ab.every((x, i) => x === ba[i]));
 * ```
 */
export async function generateKeyAgreementKey(
  algorithm: DhAlgorithm,
  options?: KeyOptions,
): Promise<ExportableKeyAgreementKey> {
  checkAlgorithm(algorithm);
  const extractable = options?.extractable ?? false;
  const native = nativeCurvesFor(algorithm, options);
  if (native) return new NativeDhKey(native.generateX25519(), extractable);
  if (await pickBackend(algorithm, portableOptions(options)) === "noble") {
    const curve = (await loadNoble()).curves[algorithm];
    const secret = curve.utils.randomSecretKey();
    return new NobleDhKey(
      algorithm,
      secret,
      curve.getPublicKey(secret),
      extractable,
    );
  }
  const { key, publicKey } = await generatePair(algorithm, extractable, ["deriveBits"]);
  return new WebCryptoDhKey(algorithm, key, publicKey);
}

/**
 * Imports a raw private key (32 bytes for X25519, 56 for X448).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importKeyAgreementKey } from "@sealroute/sealroute/vault";
 * const key = await importKeyAgreementKey("X25519", new Uint8Array(32).fill(7));
 * assert(key.publicKey.length === 32);
 * ```
 */
export async function importKeyAgreementKey(
  algorithm: DhAlgorithm,
  privateKey: Uint8Array,
  options?: KeyOptions,
): Promise<ExportableKeyAgreementKey> {
  checkAlgorithm(algorithm);
  checkKeyLength(algorithm, "private", privateKey);
  const extractable = options?.extractable ?? false;
  const native = nativeCurvesFor(algorithm, options);
  if (native) return new NativeDhKey(native.importX25519(privateKey), extractable);
  if (await pickBackend(algorithm, portableOptions(options)) === "noble") {
    const curve = (await loadNoble()).curves[algorithm];
    return new NobleDhKey(
      algorithm,
      privateKey,
      curve.getPublicKey(privateKey),
      extractable,
    );
  }
  const { key, publicKey } = await importPrivate(algorithm, privateKey, [
    "deriveBits",
  ], extractable);
  return new WebCryptoDhKey(algorithm, key, publicKey);
}
