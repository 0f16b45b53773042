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
import { nativeAead } from "../vault/mod.ts";
import type { CipherState } from "./cipher_state.ts";
import type { CipherName } from "./suite.ts";
import { TransportKey, writeNonce } from "./_transport_key.ts";

/** Nonces per key epoch: Ockam's `KEY_RENEWAL_INTERVAL`. */
export const KEY_RENEWAL_INTERVAL = 32;

/**
 * The nonce within an epoch at which the next epoch's key starts being derived, so that it
 * is at hand when the epoch ends (a channel idle early in an epoch holds one key).
 */
const PREPARE_AT = 8;

interface Upcoming {
  epoch: number;
  key: TransportKey | undefined;
  promise: Promise<TransportKey>;
}

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
  #key: Promise<TransportKey>;
  #start: number;
  #next: number;
  #reserve: EncryptorOptions["reserve"];
  // The current epoch's key once it is at hand (for frames sealed synchronously), and the
  // next epoch's, derived ahead in the background.
  #epoch = -1;
  #ready: TransportKey | undefined;
  #upcoming: Upcoming | undefined;
  #pendingAsync = 0;
  #cipher: CipherName;

  /** Starts at nonce 0 with `key` (the split's sending key), or as `options` say. */
  constructor(key: CipherState, options: EncryptorOptions = {}) {
    const start = options.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0 || start % KEY_RENEWAL_INTERVAL !== 0) {
      throw new RangeError(`the first nonce must be a multiple of 32, got ${start}`);
    }
    // A resumable channel's reservations derive keys ahead from CipherStates.
    const first = TransportKey.of(key, options.reserve !== undefined);
    this.#key = Promise.resolve(first);
    this.#start = start;
    this.#next = start;
    this.#reserve = options.reserve;
    this.#epoch = start / KEY_RENEWAL_INTERVAL;
    this.#ready = first;
    this.#cipher = key.cipher;
  }

  /**
   * Whether frames are normally sealed synchronously ({@linkcode Encryptor.encryptSync}): a
   * native AEAD is installed for this cipher and no nonce reservations are made. A caller
   * then does best to let an asynchronous frame finish before the next one, so the ones
   * after it are synchronous again.
   */
  get cutThrough(): boolean {
    return !this.#reserve && this.#cipher === "AESGCM" && nativeAead() !== undefined;
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
    if (n > this.#start && n % KEY_RENEWAL_INTERVAL === 0) this.#advance(n);
    else if (n % KEY_RENEWAL_INTERVAL === PREPARE_AT && !this.#reserve) this.#prepare();
    const current = this.#key;
    const reserved = this.#reserve?.(n, this.#cipherState(current));
    this.#pendingAsync++;
    const frame = (reserved ? reserved.then(() => current) : current).then(async (key) => {
      const sealed = await key.seal(n, plaintext);
      const frame = new Uint8Array(8 + sealed.length);
      writeNonce(frame, n);
      frame.set(sealed, 8);
      return frame;
    });
    const settled = () => void this.#pendingAsync--;
    frame.then(settled, settled);
    return frame;
  }

  /**
   * Frames `plaintext` under the next nonce at once, when that needs nothing awaited: the
   * epoch's key is at hand and seals synchronously, no earlier frame is still being made
   * and no nonce must be reserved first. Otherwise returns undefined and uses no nonce
   * (call {@linkcode Encryptor.encrypt}). Frames are the same bytes either way.
   */
  encryptSync(plaintext: Uint8Array): Uint8Array | undefined {
    const n = this.#next;
    if (this.#reserve || this.#pendingAsync > 0 || n >= Number.MAX_SAFE_INTEGER) return undefined;
    let key = this.#ready;
    if (n > this.#start && n % KEY_RENEWAL_INTERVAL === 0) {
      const up = this.#upcoming;
      key = up?.epoch === n / KEY_RENEWAL_INTERVAL ? up.key : undefined;
      if (!key?.isSync(plaintext.length)) return undefined;
    }
    if (!key?.isSync(plaintext.length)) return undefined;
    if (key !== this.#ready) this.#advance(n);
    else if (n % KEY_RENEWAL_INTERVAL === PREPARE_AT) this.#prepare();
    const frame = key.sealFrameSync(n, plaintext);
    if (frame) this.#next = n + 1;
    return frame;
  }

  // Before the first nonce of each epoch, k = REKEY(k) (Ockam's encryptor; Noise §11.3).
  #advance(n: number): void {
    const epoch = n / KEY_RENEWAL_INTERVAL;
    const up = this.#upcoming;
    if (up?.epoch === epoch && up.key) {
      this.#key = Promise.resolve(up.key);
      this.#ready = up.key;
    } else {
      const previous = this.#key;
      this.#key = up?.epoch === epoch && up.promise
        ? up.promise
        : previous.then((k) => k.rekeyed());
      this.#ready = undefined;
      const next = this.#key;
      next.then((k) => {
        if (this.#key === next) this.#ready = k;
      }, () => {});
    }
    this.#epoch = epoch;
    this.#upcoming = undefined;
  }

  // Derives the next epoch's key ahead of its first nonce.
  #prepare(): void {
    const epoch = this.#epoch + 1;
    if (this.#upcoming?.epoch === epoch) return;
    const promise = this.#key.then((k) => k.rekeyed());
    const up: Upcoming = { epoch, key: undefined, promise };
    this.#upcoming = up;
    promise.then((k) => up.key = k, () => {
      if (this.#upcoming === up) this.#upcoming = undefined;
    });
  }

  #cipherState(key: Promise<TransportKey>): Promise<CipherState> {
    return key.then((k) => k.state!);
  }
}
