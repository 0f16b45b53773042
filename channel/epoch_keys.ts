/**
 * The receiver's key schedule for transport messages: one key per epoch of 32 nonces,
 * each derived from the one before by Noise's REKEY (§11.3), as Ockam's encryptor does.
 *
 * Keys are derived lazily, in epoch order, by one background task per receiver, each
 * epoch at most once, however many frames (forged or not) point into it. A frame whose
 * epoch is not derived yet waits for the task to get there; frames whose keys are at hand
 * never wait for it, and the task yields to other work every few milliseconds, so a
 * forged frame pointing far ahead delays no one else (callers that keep frames in order
 * can ask {@linkcode EpochKeys.isReady} and let such a frame wait aside). How far ahead a
 * frame may point is bounded (default 2^15 epochs, 2^20 nonces): the work a peer can
 * cause without authenticating is at most that many derivations, plus one per epoch that
 * real traffic advances. Skipped epochs are kept as 32 raw bytes in one slab (≈ 1 MiB at
 * the bound), not as usable keys; a usable key is made from the bytes when a frame needs
 * it, and kept only once a frame authenticated with it.
 *
 * @module
 */
import { ChannelError } from "../errors.ts";

/** A key that can derive the next epoch's key bytes from itself. */
export interface Rekeyable {
  /** The next epoch's key as raw bytes (Noise `REKEY`); leaves this key usable. */
  rekeyedKeyBytes(): Promise<Uint8Array>;
}

/** Options of {@linkcode EpochKeys}. */
export interface EpochKeysOptions<K> {
  /** Makes a usable key from raw key bytes. */
  open: (bytes: Uint8Array) => Promise<K>;
  /** Nonces per epoch. Default 32 (Ockam's `KEY_RENEWAL_INTERVAL`). */
  interval?: number;
  /** How many epochs past the newest authenticated one a frame may point. Default 2^15 (2^20 nonces). */
  maxEpochsAhead?: number;
  /** Milliseconds the derivation task runs before it lets other work run. Default 2. */
  sliceMs?: number;
  /**
   * The epoch `initial` is the key of (default 0): earlier epochs are refused ("too-old").
   * A resumed channel's receiver starts at the epoch it persisted.
   */
  startEpoch?: number;
}

interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const KEY_BYTES = 32;
/** Derivations between two yields at most, whatever the clock says (some runtimes freeze it). */
const MAX_PER_SLICE = 256;

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

// A macrotask turn, so timers and I/O run between slices of derivation (microtasks alone
// would keep them waiting).
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
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
 * assert.equal(keys.isReady(2), false);
 * const epoch2 = await keys.keyForNonce(70); // nonce 70 is in epoch 2
 * assert.equal(keys.size, 3); // epochs 0 and 2 usable, epoch 1 kept as bytes
 * assert.ok(epoch2.hasKey && keys.isReady(2));
 * keys.close();
 * ```
 */
export class EpochKeys<K extends Rekeyable> {
  #open: (bytes: Uint8Array) => Promise<K>;
  #interval: number;
  #maxAhead: number;
  #sliceMs: number;
  // Usable keys: epoch 0's, those of epochs a frame authenticated in, and those frames are
  // being tried with now (dropped again by `release` if none authenticates).
  #usable = new Map<number, Promise<K>>();
  // The usable keys that have resolved, for callers that open frames synchronously.
  // (The start epoch's apart, so an idle receiver holds no map for it.)
  #resolved: Map<number, K> | undefined;
  #startEpoch: number;
  #startKey: K | undefined;
  #authenticated = new Set<number>([0]);
  // Raw bytes of derived epochs: epoch e at 32 * (e - #base) in the slab, kept while #held says so.
  #base = 1;
  #slab = new Uint8Array(0);
  #held = new Uint8Array(0);
  #heldCount = 0;
  #low = 1; // no epoch below this one still holds bytes
  #newest = 0; // newest epoch a frame authenticated in
  #derived = 0; // highest epoch derived: its bytes (epoch 0: its usable key) are always held
  #target = 0; // highest epoch asked for
  #waiters = new Map<number, Waiter>();
  #deriving = false;
  #derivations = 0;
  #closed = false;

  /** Starts at epoch 0 with `initial`. */
  constructor(initial: K, options: EpochKeysOptions<K>) {
    this.#open = options.open;
    this.#interval = options.interval ?? 32;
    this.#maxAhead = options.maxEpochsAhead ?? 2 ** 15;
    this.#sliceMs = options.sliceMs ?? 2;
    const start = options.startEpoch ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new RangeError(`the start epoch must be a non-negative integer, got ${start}`);
    }
    this.#usable.set(start, Promise.resolve(initial));
    this.#startEpoch = start;
    this.#startKey = initial;
    this.#authenticated = new Set([start]);
    this.#base = start + 1;
    this.#low = start + 1;
    this.#newest = start;
    this.#derived = start;
    this.#target = start;
  }

  /**
   * A copy of epoch `epoch`'s key bytes when they are held (every derived epoch's are, until
   * it is dropped; the start epoch has none), for a channel that persists its receive key.
   * The bytes are secret: zero them when done.
   */
  keyBytes(epoch: number): Uint8Array | undefined {
    if (this.#closed || !this.#isHeld(epoch)) return undefined;
    const i = epoch - this.#base;
    return this.#slab.slice(KEY_BYTES * i, KEY_BYTES * (i + 1));
  }

  /** The epoch `nonce` falls in. */
  epochOf(nonce: number): number {
    return Math.floor(nonce / this.#interval);
  }

  /**
   * Whether a frame in `epoch` gets its key (or its refusal) without waiting for
   * derivation: its key is usable or held as bytes, or the epoch is refused anyway.
   */
  isReady(epoch: number): boolean {
    return this.toDerive(epoch) === 0;
  }

  /** How many epochs must still be derived before a frame in `epoch` can be opened (0: none). */
  toDerive(epoch: number): number {
    if (
      this.#closed || epoch <= this.#derived || epoch - this.#newest > this.#maxAhead ||
      this.#usable.has(epoch)
    ) return 0;
    return epoch - this.#derived;
  }

  /**
   * The key for `nonce`, waiting for the derivation of its epoch (each epoch is derived
   * once). A nonce too far ahead is a `ChannelError` ("too-far-ahead"); one whose epoch
   * key was dropped is "too-old"; after {@linkcode EpochKeys.close}, "closed".
   */
  keyForNonce(nonce: number): Promise<K> {
    const epoch = this.epochOf(nonce);
    if (this.#closed) return Promise.reject(closedError());
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
    if (epoch <= this.#derived) return this.#fromBytes(epoch, nonce);
    return this.#waitFor(epoch).then(() =>
      this.#usable.get(epoch) ?? this.#fromBytes(epoch, nonce)
    );
  }

  /**
   * The usable key of `epoch` when it is at hand now (made and resolved), else undefined:
   * for callers that open frames synchronously. Never derives or makes a key.
   */
  usableNow(epoch: number): K | undefined {
    if (this.#closed) return undefined;
    return epoch === this.#startEpoch ? this.#startKey : this.#resolved?.get(epoch);
  }

  /**
   * Starts making `epoch`'s usable key in the background (deriving it first if need be),
   * so that frames of it find it at hand. For a receiver whose traffic has authenticated
   * close to that epoch: `epoch` must be the one after the newest authenticated one.
   */
  prepare(epoch: number): void {
    if (this.#closed || epoch !== this.#newest + 1 || this.#usable.has(epoch)) return;
    this.keyForNonce(epoch * this.#interval).catch(() => {});
  }

  /**
   * Records that a frame in `epoch` authenticated (its key stays usable), and drops keys
   * no frame can use any more: those older than `oldestUseful`, except the newest epoch's
   * and the highest derived one's.
   */
  commit(epoch: number, oldestUseful: number): void {
    if (this.#closed) return;
    if (epoch > this.#newest) this.#newest = epoch;
    this.#authenticated.add(epoch);
    for (const e of this.#usable.keys()) {
      if (e < oldestUseful && this.#droppable(e)) this.#forget(e);
    }
    const end = Math.min(oldestUseful, this.#derived);
    for (let e = this.#low; e < end; e++) if (this.#droppable(e)) this.#unhold(e);
    if (end > this.#low) this.#low = end;
  }

  /**
   * Forgets the usable key made for frames in `epoch` when none of them authenticated
   * (the bytes stay, so trying again derives nothing).
   */
  release(epoch: number): void {
    if (!this.#authenticated.has(epoch)) this.#unusable(epoch);
  }

  /** Forgets epoch `epoch` (every nonce of it was received). */
  drop(epoch: number): void {
    if (this.#droppable(epoch)) this.#forget(epoch);
  }

  /** Whether `epoch`'s key is held in either form. */
  holds(epoch: number): boolean {
    return this.#usable.has(epoch) || this.#isHeld(epoch);
  }

  /** Stops deriving, fails every frame waiting for a key ("closed") and zeroes the held bytes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = closedError();
    for (const w of this.#waiters.values()) w.reject(error);
    this.#waiters.clear();
    this.#usable.clear();
    this.#resolved = undefined;
    this.#startKey = undefined;
    this.#slab.fill(0);
    this.#slab = new Uint8Array(0);
    this.#held = new Uint8Array(0);
    this.#heldCount = 0;
  }

  /** The newest epoch a frame authenticated in. */
  get newest(): number {
    return this.#newest;
  }

  /** The highest epoch derived so far. */
  get derived(): number {
    return this.#derived;
  }

  /** How many epoch keys were derived so far (for tests and accounting). */
  get derivations(): number {
    return this.#derivations;
  }

  /** The epochs whose keys are held (usable or as bytes) now, in no particular order. */
  heldEpochs(): number[] {
    const out = [...this.#usable.keys()];
    for (let i = 0; i < this.#held.length; i++) {
      const e = this.#base + i;
      if (this.#held[i] && !this.#usable.has(e)) out.push(e);
    }
    return out;
  }

  /** How many epoch keys are held now, in either form (for tests and memory accounting). */
  get size(): number {
    let usableOnly = 0;
    for (const e of this.#usable.keys()) if (!this.#isHeld(e)) usableOnly++;
    return this.#heldCount + usableOnly;
  }

  /** How many of them are usable keys (the rest are 32 raw bytes each). */
  get usableSize(): number {
    return this.#usable.size;
  }

  #droppable(epoch: number): boolean {
    return epoch !== this.#newest && epoch !== this.#derived;
  }

  #unusable(epoch: number): void {
    this.#usable.delete(epoch);
    if (epoch === this.#startEpoch) this.#startKey = undefined;
    else this.#resolved?.delete(epoch);
  }

  #forget(epoch: number): void {
    this.#unusable(epoch);
    this.#authenticated.delete(epoch);
    this.#unhold(epoch);
  }

  #fromBytes(epoch: number, nonce: number): Promise<K> {
    const i = epoch - this.#base;
    if (this.#closed) return Promise.reject(closedError());
    if (i < 0 || i >= this.#held.length || !this.#held[i]) {
      return Promise.reject(new ChannelError("too-old", `the key for nonce ${nonce} is gone`));
    }
    const bytes = this.#slab.slice(KEY_BYTES * i, KEY_BYTES * (i + 1));
    const key = this.#open(bytes).finally(() => bytes.fill(0));
    this.#usable.set(epoch, key);
    key.then((k) => {
      if (this.#usable.get(epoch) !== key) return;
      if (epoch === this.#startEpoch) this.#startKey = k;
      else (this.#resolved ??= new Map()).set(epoch, k);
    }, () => {
      if (this.#usable.get(epoch) === key) this.#usable.delete(epoch);
    });
    return key;
  }

  #waitFor(epoch: number): Promise<void> {
    let w = this.#waiters.get(epoch);
    if (!w) {
      w = waiter();
      this.#waiters.set(epoch, w);
    }
    if (epoch > this.#target) this.#target = epoch;
    if (!this.#deriving) void this.#derive();
    return w.promise;
  }

  // The one derivation task: from the highest derived epoch up to the highest one asked
  // for, in order, yielding every few milliseconds.
  async #derive(): Promise<void> {
    this.#deriving = true;
    let sliceStart = Date.now();
    let inSlice = 0;
    try {
      while (!this.#closed && this.#derived < this.#target) {
        const from = this.#derived;
        const key = await this.#chainKey(from);
        const bytes = await key.rekeyedKeyBytes();
        if (this.#closed) {
          bytes.fill(0);
          return;
        }
        this.#store(from + 1, bytes);
        this.#derived = from + 1;
        this.#derivations++;
        const w = this.#waiters.get(from + 1);
        if (w) {
          this.#waiters.delete(from + 1);
          w.resolve();
        }
        if (++inSlice >= MAX_PER_SLICE || Date.now() - sliceStart >= this.#sliceMs) {
          await yieldTurn();
          sliceStart = Date.now();
          inSlice = 0;
        }
      }
    } catch (cause) {
      // The vault refused a derivation: every frame waiting learns it; later ones retry.
      const error = new ChannelError("rekey-failed", "could not derive an epoch key", { cause });
      for (const w of this.#waiters.values()) w.reject(error);
      this.#waiters.clear();
      this.#target = this.#derived;
    } finally {
      this.#deriving = false;
    }
  }

  // The key to derive `epoch + 1` from: its usable key if there is one, else made from
  // its bytes for this one derivation.
  #chainKey(epoch: number): Promise<K> {
    const usable = this.#usable.get(epoch);
    if (usable) return usable;
    const i = epoch - this.#base;
    const bytes = this.#slab.slice(KEY_BYTES * i, KEY_BYTES * (i + 1));
    return this.#open(bytes).finally(() => bytes.fill(0));
  }

  #isHeld(epoch: number): boolean {
    const i = epoch - this.#base;
    return i >= 0 && i < this.#held.length && this.#held[i] === 1;
  }

  #unhold(epoch: number): void {
    const i = epoch - this.#base;
    if (i < 0 || i >= this.#held.length || !this.#held[i]) return;
    this.#held[i] = 0;
    this.#heldCount--;
    this.#slab.fill(0, KEY_BYTES * i, KEY_BYTES * (i + 1));
  }

  #store(epoch: number, bytes: Uint8Array): void {
    let i = epoch - this.#base;
    if (i >= this.#held.length) {
      this.#compact(epoch);
      i = epoch - this.#base;
    }
    if (i >= this.#held.length) {
      const size = Math.max(8, i + 1, 2 * this.#held.length);
      const slab = new Uint8Array(KEY_BYTES * size);
      slab.set(this.#slab);
      const held = new Uint8Array(size);
      held.set(this.#held);
      this.#slab.fill(0);
      this.#slab = slab;
      this.#held = held;
    }
    this.#slab.set(bytes, KEY_BYTES * i);
    bytes.fill(0);
    if (!this.#held[i]) {
      this.#held[i] = 1;
      this.#heldCount++;
    }
  }

  // Moves the slab's start up to the lowest epoch still held (at most to `next`).
  #compact(next: number): void {
    let shift = 0;
    const limit = Math.min(this.#held.length, next - this.#base);
    while (shift < limit && !this.#held[shift]) shift++;
    if (shift === 0) return;
    this.#slab.copyWithin(0, KEY_BYTES * shift);
    this.#slab.fill(0, this.#slab.length - KEY_BYTES * shift);
    this.#held.copyWithin(0, shift);
    this.#held.fill(0, this.#held.length - shift);
    this.#base += shift;
    if (this.#low < this.#base) this.#low = this.#base;
  }
}

function closedError(): ChannelError {
  return new ChannelError("closed", "the receiver was closed");
}
