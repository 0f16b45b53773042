/**
 * The sending half of a secure channel's transport phase, as Ockam frames it
 * (`encryptor.rs`): each frame is `nonce (u64 big-endian) || AES-256-GCM(plaintext)` with
 * empty associated data, and the key is replaced by Noise's REKEY every 32 nonces.
 *
 * Nonces are assigned synchronously and each encryption starts at once, so many AEAD
 * calls are in flight while frames still come out in nonce order.
 *
 * @module
 */
import { ChannelError } from "../errors.ts";
import type { CipherState } from "./cipher_state.ts";

/** Nonces per key epoch: Ockam's `KEY_RENEWAL_INTERVAL`. */
export const KEY_RENEWAL_INTERVAL = 32;

const EMPTY = new Uint8Array();

/** Options of {@linkcode Encryptor}. */
export interface EncryptorOptions {
  /**
   * The first nonce (a multiple of 32; default 0): `key` is then the key of its epoch. A
   * resumed channel starts past every nonce it may have used before.
   */
  start?: number;
  /**
   * Called with each nonce before it is used and the key of its epoch: when it returns a
   * promise, the encryption waits for it (and fails if it rejects). A resumable channel
   * persists a nonce reservation this way before it uses nonces beyond the last one.
   */
  reserve?: (nonce: number, key: Promise<CipherState>) => Promise<void> | undefined;
}

/**
 * Encrypts transport frames with explicit nonces and Ockam's rekey schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CipherState, Encryptor } from "@sealroute/sealroute/channel";
 * const key = await CipherState.create("AESGCM", new Uint8Array(32));
 * const encryptor = new Encryptor(key);
 * const frame = await encryptor.encrypt(new Uint8Array([1, 2, 3]));
 * assert.equal(frame.length, 8 + 3 + 16);
 * assert.equal(encryptor.nextNonce, 1);
 * ```
 */
export class Encryptor {
  #key: Promise<CipherState>;
  #start: number;
  #next: number;
  #reserve: EncryptorOptions["reserve"];

  /** Starts at nonce 0 with `key` (the split's sending key), or as `options` say. */
  constructor(key: CipherState, options: EncryptorOptions = {}) {
    const start = options.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0 || start % KEY_RENEWAL_INTERVAL !== 0) {
      throw new RangeError(`the first nonce must be a multiple of 32, got ${start}`);
    }
    this.#key = Promise.resolve(key);
    this.#start = start;
    this.#next = start;
    this.#reserve = options.reserve;
  }

  /** The nonce the next frame gets. */
  get nextNonce(): number {
    return this.#next;
  }

  /**
   * Frames `plaintext` under the next nonce. The nonce is taken now, synchronously, so
   * calls may overlap; their frames carry nonces in call order.
   */
  encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    const n = this.#next;
    if (n >= Number.MAX_SAFE_INTEGER) {
      return Promise.reject(
        new ChannelError("nonce-exhausted", "the channel has used every nonce"),
      );
    }
    this.#next = n + 1;
    if (n > this.#start && n % KEY_RENEWAL_INTERVAL === 0) {
      // Ockam's encryptor: before the first nonce of each epoch, k = REKEY(k) (Noise §11.3).
      this.#key = this.#key.then((k) => k.rekeyed());
    }
    const current = this.#key;
    const reserved = this.#reserve?.(n, current);
    return (reserved ? reserved.then(() => current) : current).then(async (key) => {
      const sealed = await key.encryptAt(BigInt(n), EMPTY, plaintext);
      const frame = new Uint8Array(8 + sealed.length);
      new DataView(frame.buffer).setBigUint64(0, BigInt(n));
      frame.set(sealed, 8);
      return frame;
    });
  }
}
