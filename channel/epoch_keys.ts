/**
 * The receiver's key schedule for transport messages: one key per epoch of 32 nonces,
 * each derived from the one before by Noise's REKEY (§11.3), as Ockam's encryptor does.
 *
 * Keys are derived lazily and cached, so a gap of many epochs costs each epoch's
 * derivation once, however many forged or replayed frames point into it; how far ahead a
 * frame may point is bounded, and keys of epochs that can no longer be used are dropped.
 *
 * @module
 */
import { ChannelError } from "../errors.ts";

/** Anything that can derive the next epoch's key from itself. */
export interface Rekeyable<K> {
  /** The key of the next epoch; leaves this one usable. */
  rekeyed(): Promise<K>;
}

/** Options of {@linkcode EpochKeys}. */
export interface EpochKeysOptions {
  /** Nonces per epoch. Default 32 (Ockam's `KEY_RENEWAL_INTERVAL`). */
  interval?: number;
  /** How many epochs past the newest authenticated one a frame may point. Default 2^15 (2^20 nonces). */
  maxEpochsAhead?: number;
}

/**
 * Lazily derived, cached epoch keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EpochKeys } from "@sealroute/sealroute/channel";
 * class Counter { constructor(readonly n: number) {} rekeyed() { return Promise.resolve(new Counter(this.n + 1)); } }
 * const keys = new EpochKeys(new Counter(0));
 * assert.equal((await keys.keyForNonce(70)).n, 2); // nonce 70 is in epoch 2
 * ```
 */
export class EpochKeys<K extends Rekeyable<K>> {
  #interval: number;
  #maxAhead: number;
  #keys = new Map<number, Promise<K>>();
  #newest = 0; // newest epoch a frame authenticated in
  #frontier = 0; // highest epoch derived (or being derived)

  /** Starts at epoch 0 with `initial`. */
  constructor(initial: K, options: EpochKeysOptions = {}) {
    this.#interval = options.interval ?? 32;
    this.#maxAhead = options.maxEpochsAhead ?? 2 ** 15;
    this.#keys.set(0, Promise.resolve(initial));
  }

  /** The epoch `nonce` falls in. */
  epochOf(nonce: number): number {
    return Math.floor(nonce / this.#interval);
  }

  /**
   * The key for `nonce`, deriving (once) every epoch up to it. A nonce too far ahead is a
   * `ChannelError` ("too-far-ahead"); one whose epoch key was dropped is "too-old".
   */
  keyForNonce(nonce: number): Promise<K> {
    const epoch = this.epochOf(nonce);
    if (epoch - this.#newest > this.#maxAhead) {
      return Promise.reject(
        new ChannelError(
          "too-far-ahead",
          `nonce ${nonce} is more than ${this.#maxAhead} epochs ahead`,
        ),
      );
    }
    let key = this.#keys.get(epoch);
    if (key) return key;
    if (epoch < this.#frontier) {
      return Promise.reject(new ChannelError("too-old", `the key for nonce ${nonce} is gone`));
    }
    // Chain from the frontier; each link is created once and shared by later callers.
    key = this.#keys.get(this.#frontier)!;
    for (let e = this.#frontier + 1; e <= epoch; e++) {
      key = key.then((k) => k.rekeyed());
      this.#keys.set(e, key);
    }
    this.#frontier = epoch;
    return key;
  }

  /**
   * Records that a frame in `epoch` authenticated, and drops keys no frame can use any
   * more: those older than `oldestUseful`, except the newest epoch's own.
   */
  commit(epoch: number, oldestUseful: number): void {
    if (epoch > this.#newest) this.#newest = epoch;
    for (const e of this.#keys.keys()) {
      if (e < oldestUseful && e !== this.#newest) this.#keys.delete(e);
    }
  }

  /** Forgets epoch `epoch` (every nonce of it was received). */
  drop(epoch: number): void {
    if (epoch !== this.#newest && epoch !== this.#frontier) this.#keys.delete(epoch);
  }

  /** The newest epoch a frame authenticated in. */
  get newest(): number {
    return this.#newest;
  }

  /** The epochs whose keys are held (or being derived) now. */
  heldEpochs(): number[] {
    return [...this.#keys.keys()];
  }

  /** How many epoch keys are held now (for tests and memory accounting). */
  get size(): number {
    return this.#keys.size;
  }
}
