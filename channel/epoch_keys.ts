/**
 * The receiver's key schedule for transport messages: one key per epoch of 32 nonces,
 * each derived from the one before by Noise's REKEY (§11.3), as Ockam's encryptor does.
 *
 * Keys are derived lazily and cached, so a gap of many epochs costs each epoch's
 * derivation once, however many forged or replayed frames point into it; how far ahead a
 * frame may point is bounded, and keys of epochs that can no longer be used are dropped.
 * Skipped epochs are cached as 32 raw bytes, not as usable keys: a forged frame pointing
 * 2^15 epochs ahead costs ≈ 6 MB of heap until real traffic passes it, not ≈ 66 MB of
 * `CryptoKey`s. A usable key is made from the bytes when a frame needs it.
 *
 * @module
 */
import { ChannelError } from "../errors.ts";

/** A key that can derive the next epoch's key bytes from itself. */
export interface Rekeyable {
  /** The next epoch's key as raw bytes (Noise `REKEY`); leaves this key usable. */
  rekeyedKeyBytes(): Promise<Uint8Array>;
}

interface Chain {
  /** The first epoch the chain derived. */
  first: number;
  /** 32 bytes per skipped epoch, from `first` on. */
  slab: Uint8Array;
  /** Resolves once every skipped epoch's bytes are in the slab. */
  written: Promise<void>;
}

/** Options of {@linkcode EpochKeys}. */
export interface EpochKeysOptions<K> {
  /** Makes a usable key from raw key bytes. */
  open: (bytes: Uint8Array) => Promise<K>;
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
 * import { CipherState, EpochKeys } from "@sealroute/sealroute/channel";
 * const open = (bytes: Uint8Array) => CipherState.create("AESGCM", bytes);
 * const keys = new EpochKeys(await open(new Uint8Array(32)), { open });
 * const epoch2 = await keys.keyForNonce(70); // nonce 70 is in epoch 2
 * assert.equal(keys.size, 3); // epochs 0 and 2 usable, epoch 1 kept as bytes
 * assert.ok(epoch2.hasKey);
 * ```
 */
export class EpochKeys<K extends Rekeyable> {
  #open: (bytes: Uint8Array) => Promise<K>;
  #interval: number;
  #maxAhead: number;
  #usable = new Map<number, Promise<K>>();
  // Skipped epochs: each maps to the chain that derived it (one shared object per chain,
  // so an entry costs a map slot, and the bytes sit in one slab per chain).
  #bytes = new Map<number, Chain>();
  #newest = 0; // newest epoch a frame authenticated in
  #frontier = 0; // highest epoch derived (or being derived); always usable

  /** Starts at epoch 0 with `initial`. */
  constructor(initial: K, options: EpochKeysOptions<K>) {
    this.#open = options.open;
    this.#interval = options.interval ?? 32;
    this.#maxAhead = options.maxEpochsAhead ?? 2 ** 15;
    this.#usable.set(0, Promise.resolve(initial));
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
    const usable = this.#usable.get(epoch);
    if (usable) return usable;
    const bytes = this.#bytes.get(epoch);
    if (bytes) {
      // A skipped epoch a frame now needs: make it usable from its bytes (no derivation).
      this.#bytes.delete(epoch);
      const at = 32 * (epoch - bytes.first);
      const key = bytes.written.then(() => this.#open(bytes.slab.slice(at, at + 32)));
      this.#usable.set(epoch, key);
      return key;
    }
    if (epoch < this.#frontier) {
      return Promise.reject(new ChannelError("too-old", `the key for nonce ${nonce} is gone`));
    }
    // Chain from the frontier; each link is created once and shared by later callers. The
    // intermediate usable keys are transient: only their bytes stay.
    const first = this.#frontier + 1;
    const chain: Chain = {
      first,
      slab: new Uint8Array(32 * Math.max(0, epoch - first)),
      written: Promise.resolve(),
    };
    let key = this.#usable.get(this.#frontier)!;
    for (let e = first; e <= epoch; e++) {
      const next = key.then((k) => k.rekeyedKeyBytes());
      key = next.then((b) => this.#open(b));
      if (e < epoch) {
        const at = 32 * (e - first);
        chain.written = next.then((b) => chain.slab.set(b, at));
        this.#bytes.set(e, chain);
      }
    }
    this.#usable.set(epoch, key);
    this.#frontier = epoch;
    return key;
  }

  /**
   * Records that a frame in `epoch` authenticated, and drops keys no frame can use any
   * more: those older than `oldestUseful`, except the newest epoch's own.
   */
  commit(epoch: number, oldestUseful: number): void {
    if (epoch > this.#newest) this.#newest = epoch;
    for (const map of [this.#usable, this.#bytes]) {
      for (const e of map.keys()) {
        if (e < oldestUseful && e !== this.#newest && e !== this.#frontier) map.delete(e);
      }
    }
  }

  /** Forgets epoch `epoch` (every nonce of it was received). */
  drop(epoch: number): void {
    if (epoch === this.#newest || epoch === this.#frontier) return;
    this.#usable.delete(epoch);
    this.#bytes.delete(epoch);
  }

  /** The newest epoch a frame authenticated in. */
  get newest(): number {
    return this.#newest;
  }

  /** The epochs whose keys are held (usable, as bytes, or being derived) now. */
  heldEpochs(): number[] {
    return [...this.#usable.keys(), ...this.#bytes.keys()];
  }

  /** How many epoch keys are held now, in either form (for tests and memory accounting). */
  get size(): number {
    return this.#usable.size + this.#bytes.size;
  }

  /** How many of them are usable keys (the rest are 32 raw bytes each). */
  get usableSize(): number {
    return this.#usable.size;
  }
}
