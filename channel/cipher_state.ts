/**
 * Noise `CipherState` (§5.1): an AEAD key held by the vault and a 64-bit nonce.
 *
 * @module
 */
import { ChannelError, VaultError } from "../errors.ts";
import {
  type AeadKey,
  importAeadKey,
  isSyncAeadKey,
  nativeAead,
  type NativeAeadContext,
  type SyncAeadKey,
} from "../vault/mod.ts";
import { aeadAlgorithm, type CipherName } from "./suite.ts";

/** 2^64 - 1: reserved (§5.1); used only as the rekey nonce (§11.3). */
const MAX_NONCE = 0xffff_ffff_ffff_ffffn;
const EMPTY = new Uint8Array(0);
const ZEROS_32 = new Uint8Array(32);

/**
 * The 12-byte AEAD nonce for counter `n`: 4 zero bytes then `n` as 64 bits, big-endian
 * for AESGCM (§12.3), little-endian for ChaChaPoly (§12.4).
 */
function nonceBytes(cipher: CipherName, n: bigint): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, cipher === "ChaChaPoly");
  return out;
}

function checkNonce(n: bigint): void {
  if (typeof n !== "bigint" || n < 0n || n > MAX_NONCE) {
    throw new RangeError(`nonce must be a bigint in 0..2^64-1, got ${String(n)}`);
  }
  if (n === MAX_NONCE) {
    throw new ChannelError("nonce-exhausted", "nonce 2^64-1 is reserved; rekey or re-handshake");
  }
}

// AES-256-GCM on the installed native AEAD, made without a promise, for the handshake's
// short-lived keys. Transport keys go through importAeadKey, which also hands bulk messages
// to WebCrypto where that is faster.
class HandshakeAesGcmKey implements SyncAeadKey {
  readonly algorithm = "AES-256-GCM" as const;
  readonly #native: NativeAeadContext;
  constructor(native: NativeAeadContext) {
    this.#native = native;
  }
  sealSync(nonce: Uint8Array, plaintext: Uint8Array, ad = EMPTY): Uint8Array {
    return this.#native.seal(nonce, plaintext, ad);
  }
  openSync(nonce: Uint8Array, ciphertext: Uint8Array, ad = EMPTY): Uint8Array {
    const opened = ciphertext.length < 16 ? undefined : this.#native.open(nonce, ciphertext, ad);
    if (!opened) throw new VaultError("decrypt-failed", "ciphertext failed authentication");
    return opened;
  }
  seal(nonce: Uint8Array, plaintext: Uint8Array, ad = EMPTY): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.sealSync(nonce, plaintext, ad));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  open(nonce: Uint8Array, ciphertext: Uint8Array, ad = EMPTY): Promise<Uint8Array> {
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

/**
 * A Noise cipher state (§5.1): encrypts and decrypts with a key `k` that stays inside the
 * vault and a counter nonce `n`. Without a key, encryption and decryption pass data
 * through unchanged, as the spec says.
 *
 * Calls that use the counter (`encryptWithAd`, `decryptWithAd`) must not overlap; await
 * each. The `*At` methods take an explicit nonce and leave the counter alone, for
 * channels that carry the nonce on the wire.
 *
 * @example Transport encryption after a split
 * ```ts
 * import assert from "node:assert/strict";
 * import { CipherState } from "./cipher_state.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const sender = await CipherState.create("ChaChaPoly", key);
 * const receiver = await CipherState.create("ChaChaPoly", key);
 * const ad = new Uint8Array();
 * const ct = await sender.encryptWithAd(ad, new TextEncoder().encode("hello"));
 * assert(new TextDecoder().decode(await receiver.decryptWithAd(ad, ct)) === "hello");
 * assert(sender.nonce === 1n && receiver.nonce === 1n);
 * ```
 */
export class CipherState {
  readonly #cipher: CipherName;
  #key: AeadKey | undefined;
  #n = 0n;

  private constructor(cipher: CipherName, key: AeadKey | undefined, n: bigint) {
    this.#cipher = cipher;
    this.#key = key;
    this.#n = n;
  }

  /**
   * A cipher state for `cipher` keyed with 32 raw bytes (`InitializeKey`, §5.1), or with
   * no key when `key` is omitted. The bytes are imported into the vault (non-extractable)
   * and not kept.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const empty = await CipherState.create("AESGCM");
   * assert(!empty.hasKey);
   * assert((await empty.encryptWithAd(new Uint8Array(), new Uint8Array([1]))).length === 1);
   * ```
   */
  static async create(cipher: CipherName, key?: Uint8Array): Promise<CipherState> {
    if (cipher !== "AESGCM" && cipher !== "ChaChaPoly") {
      throw new TypeError(`unknown cipher '${String(cipher)}'`);
    }
    if (key === undefined) return new CipherState(cipher, undefined, 0n);
    if (key.length !== 32) {
      throw new RangeError(`cipher key must be 32 bytes, got ${key.length}`);
    }
    return new CipherState(cipher, await importAeadKey(aeadAlgorithm(cipher), key), 0n);
  }

  /**
   * {@linkcode CipherState.create} for a handshake's key, now where that needs no promise
   * (no key, or AESGCM with a native AEAD installed), else as a promise. The key bytes are
   * not kept; the caller zeroes its copy.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const cs = await CipherState.createEager("AESGCM", new Uint8Array(32));
   * assert(cs.hasKey);
   * ```
   */
  static createEager(cipher: CipherName, key?: Uint8Array): CipherState | Promise<CipherState> {
    if (cipher === "AESGCM" && key?.length === 32) {
      const native = nativeAead();
      if (native) return new CipherState(cipher, new HandshakeAesGcmKey(native.key(key)), 0n);
    }
    return CipherState.create(cipher, key);
  }

  /** The cipher function name (`"AESGCM"` or `"ChaChaPoly"`). */
  get cipher(): CipherName {
    return this.#cipher;
  }

  /** Whether a key is set (`HasKey`, §5.1). */
  get hasKey(): boolean {
    return this.#key !== undefined;
  }

  /** The counter nonce the next `encryptWithAd` / `decryptWithAd` uses. */
  get nonce(): bigint {
    return this.#n;
  }

  /**
   * Sets the counter nonce (`SetNonce`, §5.1). `n` must be in 0..2^64-1; at 2^64-1 every
   * counter call fails with `"nonce-exhausted"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const cs = await CipherState.create("AESGCM", new Uint8Array(32));
   * cs.setNonce(2n ** 64n - 1n);
   * await assert.rejects(cs.encryptWithAd(new Uint8Array(), new Uint8Array()), { code: "nonce-exhausted" });
   * ```
   */
  setNonce(n: bigint): void {
    if (typeof n !== "bigint" || n < 0n || n > MAX_NONCE) {
      throw new RangeError(`nonce must be a bigint in 0..2^64-1, got ${String(n)}`);
    }
    this.#n = n;
  }

  /**
   * Encrypts `plaintext` with associated data `ad` at the counter nonce, then increments it
   * (`EncryptWithAd`, §5.1). Returns ciphertext with a 16-byte tag; without a key, returns
   * `plaintext`. At nonce 2^64-1: `ChannelError` `"nonce-exhausted"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const cs = await CipherState.create("AESGCM", new Uint8Array(32));
   * const ct = await cs.encryptWithAd(new Uint8Array(), new Uint8Array(5));
   * assert(ct.length === 21 && cs.nonce === 1n);
   * ```
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    const key = this.#key;
    if (!key) return Promise.resolve(plaintext);
    const n = this.#n;
    try {
      checkNonce(n);
    } catch (error) {
      return Promise.reject(error);
    }
    // Advance before awaiting, so overlapping calls never share a nonce.
    this.#n = n + 1n;
    return key.seal(nonceBytes(this.#cipher, n), plaintext, ad);
  }

  /**
   * {@linkcode CipherState.encryptWithAd}, returning the ciphertext now when the key seals
   * synchronously, else a promise; may throw instead of rejecting. For the handshake, whose
   * messages are small: the key's synchronous path is used whatever the size.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const cs = await CipherState.create("AESGCM", new Uint8Array(32));
   * const ct = await cs.encryptWithAdEager(new Uint8Array(), new Uint8Array(5));
   * assert(ct.length === 21 && cs.nonce === 1n);
   * ```
   */
  encryptWithAdEager(ad: Uint8Array, plaintext: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const key = this.#key;
    if (!key) return plaintext;
    const n = this.#n;
    checkNonce(n);
    // Advance before any await, so overlapping calls never share a nonce.
    this.#n = n + 1n;
    const nonce = nonceBytes(this.#cipher, n);
    return isSyncAeadKey(key) ? key.sealSync(nonce, plaintext, ad) : key.seal(nonce, plaintext, ad);
  }

  /**
   * {@linkcode CipherState.decryptWithAd}, returning the plaintext now when the key opens
   * synchronously, else a promise; may throw (`"decrypt-failed"`) instead of rejecting.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const a = await CipherState.create("AESGCM", new Uint8Array(32));
   * const b = await CipherState.create("AESGCM", new Uint8Array(32));
   * const ct = await a.encryptWithAd(new Uint8Array(), new Uint8Array([1]));
   * assert.deepEqual(await b.decryptWithAdEager(new Uint8Array(), ct), new Uint8Array([1]));
   * ```
   */
  decryptWithAdEager(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | Promise<Uint8Array> {
    const key = this.#key;
    if (!key) return ciphertext;
    if (!isSyncAeadKey(key)) return this.decryptWithAd(ad, ciphertext);
    const n = this.#n;
    checkNonce(n);
    let plaintext: Uint8Array;
    try {
      plaintext = key.openSync(nonceBytes(this.#cipher, n), ciphertext, ad);
    } catch (cause) {
      throw new ChannelError("decrypt-failed", "ciphertext failed authentication", { cause });
    }
    this.#n = n + 1n;
    return plaintext;
  }

  /**
   * Decrypts and authenticates `ciphertext` at the counter nonce, incrementing it only on
   * success (`DecryptWithAd`, §5.1). Failure is a `ChannelError` `"decrypt-failed"`;
   * without a key, returns `ciphertext`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const a = await CipherState.create("AESGCM", new Uint8Array(32));
   * const b = await CipherState.create("AESGCM", new Uint8Array(32));
   * const ct = await a.encryptWithAd(new Uint8Array([9]), new Uint8Array([1, 2]));
   * await assert.rejects(b.decryptWithAd(new Uint8Array([8]), ct), { code: "decrypt-failed" });
   * assert.deepEqual(await b.decryptWithAd(new Uint8Array([9]), ct), new Uint8Array([1, 2]));
   * ```
   */
  async decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    if (!this.#key) return ciphertext;
    const n = this.#n;
    const plaintext = await this.decryptAt(n, ad, ciphertext);
    this.#n = n + 1n;
    return plaintext;
  }

  /**
   * Encrypts at the explicit nonce `n` without touching the counter (for channels that
   * send the nonce with each message). Requires a key.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const a = await CipherState.create("AESGCM", new Uint8Array(32));
   * const b = await CipherState.create("AESGCM", new Uint8Array(32));
   * const ct = await a.encryptAt(41n, new Uint8Array(), new Uint8Array([7]));
   * assert.deepEqual(await b.decryptAt(41n, new Uint8Array(), ct), new Uint8Array([7]));
   * assert(a.nonce === 0n);
   * ```
   */
  encryptAt(n: bigint, ad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    try {
      checkNonce(n);
      return this.#requireKey().seal(nonceBytes(this.#cipher, n), plaintext, ad);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Decrypts at the explicit nonce `n` without touching the counter. Failure is a
   * `ChannelError` `"decrypt-failed"`. Requires a key.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const a = await CipherState.create("ChaChaPoly", new Uint8Array(32));
   * const ct = await a.encryptAt(3n, new Uint8Array(), new Uint8Array([7]));
   * await assert.rejects(a.decryptAt(4n, new Uint8Array(), ct), { code: "decrypt-failed" });
   * ```
   */
  async decryptAt(n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array> {
    checkNonce(n);
    const key = this.#requireKey();
    try {
      return await key.open(nonceBytes(this.#cipher, n), ciphertext, ad);
    } catch (cause) {
      throw new ChannelError("decrypt-failed", "ciphertext failed authentication", { cause });
    }
  }

  /**
   * Replaces the key with `REKEY(k)` (§11.3): the first 32 bytes of encrypting 32 zero
   * bytes at nonce 2^64-1 with empty associated data. The counter is unchanged.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const a = await CipherState.create("AESGCM", new Uint8Array(32));
   * const b = await CipherState.create("AESGCM", new Uint8Array(32));
   * await a.rekey();
   * await b.rekey();
   * const ct = await a.encryptWithAd(new Uint8Array(), new Uint8Array([1]));
   * assert.deepEqual(await b.decryptWithAd(new Uint8Array(), ct), new Uint8Array([1]));
   * ```
   */
  async rekey(): Promise<void> {
    this.#key = await this.#rekeyedKey();
  }

  /**
   * A new cipher state holding `REKEY(k)` (§11.3) and the same counter, leaving this one
   * unchanged: for channels that keep the keys of several epochs.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const epoch0 = await CipherState.create("AESGCM", new Uint8Array(32));
   * const epoch1 = await epoch0.rekeyed();
   * const ct = await epoch1.encryptAt(32n, new Uint8Array(), new Uint8Array([1]));
   * await assert.rejects(epoch0.decryptAt(32n, new Uint8Array(), ct));
   * ```
   */
  async rekeyed(): Promise<CipherState> {
    return new CipherState(this.#cipher, await this.#rekeyedKey(), this.#n);
  }

  async #rekeyedKey(): Promise<AeadKey> {
    const raw = await this.rekeyedKeyBytes();
    try {
      return await importAeadKey(aeadAlgorithm(this.#cipher), raw);
    } finally {
      raw.fill(0);
    }
  }

  /**
   * `REKEY(k)` (§11.3) as 32 raw bytes, for a cache of many epoch keys that must stay small
   * (a secure channel's receiver keeps skipped epochs this way, not as `CryptoKey`s). The
   * bytes are secret: keep them in memory only, and zero them when done.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState } from "./cipher_state.ts";
   * const epoch0 = await CipherState.create("AESGCM", new Uint8Array(32));
   * const epoch1 = await CipherState.create("AESGCM", await epoch0.rekeyedKeyBytes());
   * const ct = await (await epoch0.rekeyed()).encryptAt(0n, new Uint8Array(), new Uint8Array([1]));
   * assert.deepEqual(await epoch1.decryptAt(0n, new Uint8Array(), ct), new Uint8Array([1]));
   * ```
   */
  async rekeyedKeyBytes(): Promise<Uint8Array> {
    const key = this.#requireKey();
    const sealed = await key.seal(nonceBytes(this.#cipher, MAX_NONCE), ZEROS_32, EMPTY);
    const raw = sealed.slice(0, 32);
    sealed.fill(0);
    return raw;
  }

  #requireKey(): AeadKey {
    if (!this.#key) throw new ChannelError("no-key", "cipher state has no key");
    return this.#key;
  }

  /** A description without key material. */
  toString(): string {
    return `CipherState(${this.#cipher}, ${this.hasKey ? "keyed" : "no key"}, n=${this.#n})`;
  }
}
