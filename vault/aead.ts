/**
 * Authenticated encryption: AES-256-GCM (WebCrypto) and ChaCha20-Poly1305
 * (`@noble/ciphers`), both with 32-byte keys, 12-byte nonces and 16-byte tags.
 *
 * @module
 */
import { buf } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import { type Backend, loadNoble } from "./backend.ts";
import { nativeAead, type NativeAeadContext } from "./native_aead.ts";

/** An AEAD algorithm by name. */
export type AeadAlgorithm = "AES-256-GCM" | "ChaCha20-Poly1305";

/**
 * Which AEAD implementation a key uses: {@linkcode Backend}, or `native` (the synchronous
 * AES-256-GCM a runtime adapter installed; see `installNativeAead`). Default: the installed
 * native one for AES-256-GCM, else WebCrypto.
 */
export interface AeadBackendOptions {
  /** Force one implementation (tests, benchmarks). */
  backend?: Backend | "native";
}

/** A symmetric key that seals and opens; its bytes are not reachable through it. */
export interface AeadKey {
  /** Which AEAD this key is for. */
  readonly algorithm: AeadAlgorithm;
  /** Encrypts `plaintext`, returning ciphertext with the 16-byte tag appended. */
  seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad?: Uint8Array,
  ): Promise<Uint8Array>;
  /** Decrypts and authenticates; a wrong key, nonce, ad or any changed byte is a `VaultError`. */
  open(
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad?: Uint8Array,
  ): Promise<Uint8Array>;
}

const EMPTY = new Uint8Array();

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== 12) {
    throw new VaultError(
      "bad-nonce",
      `AEAD nonce must be 12 bytes, got ${nonce.length}`,
    );
  }
}

function decryptFailed(): VaultError {
  return new VaultError("decrypt-failed", "ciphertext failed authentication");
}

class WebCryptoAesGcmKey implements AeadKey {
  readonly algorithm = "AES-256-GCM" as const;
  #key: CryptoKey;
  constructor(key: CryptoKey) {
    this.#key = key;
  }
  async seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad = EMPTY,
  ): Promise<Uint8Array> {
    checkNonce(nonce);
    const params = { name: "AES-GCM", iv: buf(nonce), additionalData: buf(ad) };
    return new Uint8Array(
      await crypto.subtle.encrypt(params, this.#key, buf(plaintext)),
    );
  }
  async open(
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad = EMPTY,
  ): Promise<Uint8Array> {
    checkNonce(nonce);
    if (ciphertext.length < 16) throw decryptFailed();
    const params = { name: "AES-GCM", iv: buf(nonce), additionalData: buf(ad) };
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(params, this.#key, buf(ciphertext)),
      );
    } catch {
      throw decryptFailed();
    }
  }
  toString(): string {
    return "AeadKey(AES-256-GCM)";
  }
}

/** An AEAD key that also seals and opens synchronously, in the calling thread. */
export interface SyncAeadKey extends AeadKey {
  /** Like `seal`, synchronously: throws `VaultError` `bad-nonce`. */
  sealSync(nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array;
  /** Like `open`, synchronously: throws `VaultError` `decrypt-failed` or `bad-nonce`. */
  openSync(nonce: Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array;
}

/** Whether `key` seals and opens synchronously. */
export function isSyncAeadKey(key: AeadKey): key is SyncAeadKey {
  return typeof (key as Partial<SyncAeadKey>).sealSync === "function";
}

/** AES-256-GCM on an installed native implementation, WebCrypto past its size limit. */
class NativeAesGcmKey implements SyncAeadKey {
  readonly algorithm = "AES-256-GCM" as const;
  readonly #native: NativeAeadContext;
  readonly #bulk: WebCryptoAesGcmKey | undefined;
  readonly #maxSync: number;
  constructor(native: NativeAeadContext, bulk: WebCryptoAesGcmKey | undefined, maxSync: number) {
    this.#native = native;
    this.#bulk = bulk;
    this.#maxSync = maxSync;
  }
  sealSync(nonce: Uint8Array, plaintext: Uint8Array, ad = EMPTY): Uint8Array {
    checkNonce(nonce);
    return this.#native.seal(nonce, plaintext, ad);
  }
  openSync(nonce: Uint8Array, ciphertext: Uint8Array, ad = EMPTY): Uint8Array {
    checkNonce(nonce);
    if (ciphertext.length < 16) throw decryptFailed();
    const opened = this.#native.open(nonce, ciphertext, ad);
    if (!opened) throw decryptFailed();
    return opened;
  }
  seal(nonce: Uint8Array, plaintext: Uint8Array, ad = EMPTY): Promise<Uint8Array> {
    if (this.#bulk && plaintext.length > this.#maxSync) {
      return this.#bulk.seal(nonce, plaintext, ad);
    }
    try {
      return Promise.resolve(this.sealSync(nonce, plaintext, ad));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  open(nonce: Uint8Array, ciphertext: Uint8Array, ad = EMPTY): Promise<Uint8Array> {
    if (this.#bulk && ciphertext.length > this.#maxSync + 16) {
      return this.#bulk.open(nonce, ciphertext, ad);
    }
    try {
      return Promise.resolve(this.openSync(nonce, ciphertext, ad));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  toString(): string {
    return "AeadKey(AES-256-GCM, native)";
  }
}

type NobleCipher = (
  key: Uint8Array,
  nonce: Uint8Array,
  ad?: Uint8Array,
) => { encrypt(p: Uint8Array): Uint8Array; decrypt(c: Uint8Array): Uint8Array };

class NobleAeadKey implements AeadKey {
  readonly algorithm: AeadAlgorithm;
  #key: Uint8Array;
  #cipher: NobleCipher;
  constructor(algorithm: AeadAlgorithm, key: Uint8Array, cipher: NobleCipher) {
    this.algorithm = algorithm;
    this.#key = key.slice();
    this.#cipher = cipher;
  }
  seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    ad = EMPTY,
  ): Promise<Uint8Array> {
    // Not `async` (nothing to await), so every failure must become a rejection by hand.
    try {
      checkNonce(nonce);
      return Promise.resolve(
        this.#cipher(this.#key, nonce, ad).encrypt(plaintext),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }
  open(
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    ad = EMPTY,
  ): Promise<Uint8Array> {
    try {
      checkNonce(nonce);
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      return Promise.resolve(
        this.#cipher(this.#key, nonce, ad).decrypt(ciphertext),
      );
    } catch {
      return Promise.reject(decryptFailed());
    }
  }
  toString(): string {
    return `AeadKey(${this.algorithm})`;
  }
}

/**
 * Imports 32 raw key bytes as a non-extractable AEAD key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importAeadKey } from "@sealroute/sealroute/vault";
 * const key = await importAeadKey("AES-256-GCM", crypto.getRandomValues(new Uint8Array(32)));
 * const nonce = new Uint8Array(12);
 * const sealed = await key.seal(nonce, new TextEncoder().encode("hi"));
 * const opened = await key.open(nonce, sealed);
 * assert(new TextDecoder().decode(opened) === "hi");
 * ```
 */
export async function importAeadKey(
  algorithm: AeadAlgorithm,
  raw: Uint8Array,
  options?: AeadBackendOptions,
): Promise<AeadKey> {
  if (raw.length !== 32) {
    throw new VaultError(
      "bad-key-length",
      `${algorithm} key must be 32 bytes, got ${raw.length}`,
    );
  }
  if (algorithm === "AES-256-GCM") {
    if (options?.backend === "noble") {
      return new NobleAeadKey(algorithm, raw, (await loadNoble()).gcm);
    }
    const native = nativeAead();
    if (options?.backend === "native" && !native) {
      throw new VaultError("no-native-aead", "no native AES-256-GCM is installed");
    }
    const web = async () =>
      new WebCryptoAesGcmKey(
        await crypto.subtle.importKey("raw", buf(raw), "AES-GCM", false, ["encrypt", "decrypt"]),
      );
    if (native && options?.backend !== "webcrypto") {
      const maxSync = native.maxSyncBytes ?? Number.POSITIVE_INFINITY;
      const bulk = Number.isFinite(maxSync) ? await web() : undefined;
      return new NativeAesGcmKey(native.key(raw), bulk, maxSync);
    }
    return await web();
  }
  if (algorithm === "ChaCha20-Poly1305") {
    return new NobleAeadKey(
      algorithm,
      raw,
      (await loadNoble()).chacha20poly1305,
    );
  }
  throw new VaultError(
    "unknown-algorithm",
    `unknown AEAD '${String(algorithm)}'`,
  );
}
