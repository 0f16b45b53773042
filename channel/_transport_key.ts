// One epoch's transport key, as the channel's encryptor and decryptor use it: either the
// split's CipherState (epoch 0, asynchronous) or an AEAD key imported from the epoch's bytes,
// which seals and opens synchronously when a runtime adapter installed a native AES-256-GCM.
// The frames are the same either way: `nonce (u64 BE) || AEAD(plaintext)`, empty ad.
import { ChannelError, VaultError } from "../errors.ts";
import {
  type AeadKey,
  importAeadKey,
  isSyncAeadKey,
  nativeAead,
  type SyncAeadKey,
} from "../vault/mod.ts";
import type { CipherState } from "./cipher_state.ts";
import { aeadAlgorithm, type CipherName } from "./suite.ts";

const EMPTY = new Uint8Array(0);
const ZEROS_32 = new Uint8Array(32);
/** Noise's rekey nonce, 2^64 - 1 (§11.3). */
const MAX_NONCE = 0xffff_ffff_ffff_ffffn;
/** The tag AES-GCM and ChaCha20-Poly1305 append. */
export const TAG_LENGTH = 16;

/** The 12-byte AEAD nonce of counter `n` (AESGCM big-endian, ChaChaPoly little-endian). */
function nonceBytes(cipher: CipherName, n: number | bigint): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  if (typeof n === "bigint") view.setBigUint64(4, n, cipher === "ChaChaPoly");
  else if (cipher === "ChaChaPoly") {
    view.setUint32(4, n >>> 0, true);
    view.setUint32(8, Math.floor(n / 2 ** 32), true);
  } else {
    view.setUint32(4, Math.floor(n / 2 ** 32));
    view.setUint32(8, n >>> 0);
  }
  return out;
}

/** An epoch's key. Nonces given are below 2^53 (the channel refuses larger ones). */
export class TransportKey {
  readonly #cipher: CipherName;
  readonly #state: CipherState | undefined;
  readonly #aead: AeadKey | undefined;
  readonly #sync: SyncAeadKey | undefined;
  readonly #maxSync: number;
  #keepStates = false;
  #nonce: Uint8Array | undefined;

  private constructor(cipher: CipherName, state: CipherState | undefined, aead?: AeadKey) {
    this.#cipher = cipher;
    this.#state = state;
    this.#aead = aead;
    this.#sync = aead && isSyncAeadKey(aead) ? aead : undefined;
    this.#maxSync = this.#sync ? nativeAead()?.maxSyncBytes ?? Number.POSITIVE_INFINITY : 0;
  }

  /** The split's key (epoch 0 of a fresh channel). */
  static of(state: CipherState, keepStates = false): TransportKey {
    const key = new TransportKey(state.cipher, state);
    key.#keepStates = keepStates;
    return key;
  }

  /** A key imported from 32 raw bytes (the caller zeroes them). */
  static async create(cipher: CipherName, bytes: Uint8Array): Promise<TransportKey> {
    return new TransportKey(cipher, undefined, await importAeadKey(aeadAlgorithm(cipher), bytes));
  }

  /** The CipherState this key is, for keys made by {@linkcode TransportKey.of}. */
  get state(): CipherState | undefined {
    return this.#state;
  }

  /** The cipher function name. */
  get cipher(): CipherName {
    return this.#cipher;
  }

  /** Whether a message of `length` plaintext bytes is sealed and opened synchronously. */
  isSync(length: number): boolean {
    return length <= this.#maxSync;
  }

  /** `AEAD(plaintext)` at nonce `n`, ciphertext then tag. */
  seal(n: number, plaintext: Uint8Array): Promise<Uint8Array> {
    if (this.#state) return this.#state.encryptAt(BigInt(n), EMPTY, plaintext);
    return this.#aead!.seal(nonceBytes(this.#cipher, n), plaintext, EMPTY);
  }

  /**
   * The frame `nonce || AEAD(plaintext)` sealed synchronously, or undefined when this key
   * cannot (see {@linkcode TransportKey.isSync}).
   */
  sealFrameSync(n: number, plaintext: Uint8Array): Uint8Array | undefined {
    if (!this.#sync || plaintext.length > this.#maxSync) return undefined;
    const nonce = this.#syncNonce(n);
    const sealed = this.#sync.sealSync(nonce, plaintext, EMPTY);
    const frame = new Uint8Array(8 + sealed.length);
    // The frame's nonce is big-endian whatever the cipher: the AEAD nonce's last 8 bytes
    // for AESGCM.
    if (this.#cipher === "AESGCM") frame.set(nonce.subarray(4), 0);
    else writeNonce(frame, n);
    frame.set(sealed, 8);
    return frame;
  }

  /** Opens `ciphertext` (with its tag) at nonce `n`; a failure is a `VaultError` or `ChannelError`. */
  open(n: number, ciphertext: Uint8Array): Promise<Uint8Array> {
    if (this.#state) return this.#state.decryptAt(BigInt(n), EMPTY, ciphertext);
    return this.#aead!.open(nonceBytes(this.#cipher, n), ciphertext, EMPTY);
  }

  /**
   * Opens synchronously: the plaintext, `null` when authentication fails, or undefined when
   * this key cannot open it synchronously.
   */
  openSync(n: number, ciphertext: Uint8Array): Uint8Array | null | undefined {
    if (!this.#sync || ciphertext.length > this.#maxSync + TAG_LENGTH) return undefined;
    try {
      return this.#sync.openSync(this.#syncNonce(n), ciphertext, EMPTY);
    } catch (error) {
      if (error instanceof VaultError || error instanceof ChannelError) return null;
      throw error;
    }
  }

  // The AEAD nonce of `n` in one buffer this key reuses: only for synchronous calls, which
  // are done with it when they return.
  #syncNonce(n: number): Uint8Array {
    const out = this.#nonce ??= new Uint8Array(12);
    if (this.#cipher === "AESGCM") writeNonce(out.subarray(4), n);
    else {
      const lo = n >>> 0;
      const hi = Math.floor(n / 2 ** 32);
      out[4] = lo & 0xff;
      out[5] = (lo >>> 8) & 0xff;
      out[6] = (lo >>> 16) & 0xff;
      out[7] = lo >>> 24;
      out[8] = hi & 0xff;
      out[9] = (hi >>> 8) & 0xff;
      out[10] = (hi >>> 16) & 0xff;
      out[11] = hi >>> 24;
    }
    return out;
  }

  /** The next epoch's key bytes, `REKEY(k)` (§11.3): secret, zero them when done. */
  async rekeyedKeyBytes(): Promise<Uint8Array> {
    if (this.#state) return await this.#state.rekeyedKeyBytes();
    const sealed = await this.#aead!.seal(nonceBytes(this.#cipher, MAX_NONCE), ZEROS_32, EMPTY);
    const raw = sealed.slice(0, 32);
    sealed.fill(0);
    return raw;
  }

  /** The next epoch's key (a CipherState's is a CipherState too). */
  async rekeyed(): Promise<TransportKey> {
    if (this.#state && this.#keepStates) return TransportKey.of(await this.#state.rekeyed(), true);
    const bytes = await this.rekeyedKeyBytes();
    try {
      return await TransportKey.create(this.#cipher, bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A description without key material. */
  toString(): string {
    return `TransportKey(${this.#cipher})`;
  }
}

/** Writes nonce `n` (< 2^53) big-endian into the first 8 bytes of `frame`. */
export function writeNonce(frame: Uint8Array, n: number): void {
  const hi = Math.floor(n / 2 ** 32);
  const lo = n >>> 0;
  frame[0] = hi >>> 24;
  frame[1] = (hi >>> 16) & 0xff;
  frame[2] = (hi >>> 8) & 0xff;
  frame[3] = hi & 0xff;
  frame[4] = lo >>> 24;
  frame[5] = (lo >>> 16) & 0xff;
  frame[6] = (lo >>> 8) & 0xff;
  frame[7] = lo & 0xff;
}

/** The nonce in the first 8 bytes of `frame` (big-endian), or -1 past 2^53 - 1. */
export function readNonce(frame: Uint8Array): number {
  const hi = ((frame[0]! << 24) | (frame[1]! << 16) | (frame[2]! << 8) | frame[3]!) >>> 0;
  const lo = ((frame[4]! << 24) | (frame[5]! << 16) | (frame[6]! << 8) | frame[7]!) >>> 0;
  if (hi > 0x1f_ffff) return -1;
  const n = hi * 2 ** 32 + lo;
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}
