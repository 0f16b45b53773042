/**
 * The receiving half of a secure channel's transport phase: Ockam's frames and keys,
 * with a receiver that survives loss and reordering (`decryptor.rs` keeps a window of
 * 32 and one previous key; this one keeps a window of `windowSize` nonces and catches up
 * across up to 2^15 key epochs, 2^20 lost messages, in one step).
 *
 * Work per unauthenticated frame is bounded: a frame costs one AEAD open (and at most one
 * key import), plus the derivation of epoch keys it points to that were never derived
 * before, each at most once and never more than 2^15 epochs ahead of the newest
 * authenticated one. That derivation runs in the background ({@linkcode EpochKeys}), so
 * frames whose keys are at hand do not wait for it: a channel asks
 * {@linkcode Decryptor.isKeyed} and lets a frame that must wait do so aside. Nothing is
 * recorded unless the frame authenticates.
 *
 * @module
 */
import { ChannelError, VaultError } from "../errors.ts";
import type { CipherState } from "./cipher_state.ts";
import { KEY_RENEWAL_INTERVAL } from "./encryptor.ts";
import { readNonce, TransportKey } from "./_transport_key.ts";
import { EpochKeys } from "./epoch_keys.ts";
import { ReplayWindow } from "./replay_window.ts";

/** Options of {@linkcode Decryptor}. */
export interface DecryptorOptions {
  /** Nonces behind the newest that are still accepted once. Default 1024 (a multiple of 32). */
  windowSize?: number;
  /** How many epochs of 32 nonces a frame may skip ahead. Default 2^15 (2^20 lost messages). */
  maxEpochsAhead?: number;
  /**
   * Where a resumed channel's receiver starts: `key` is the key of epoch `epoch`, and every
   * nonce up to `floor` is refused (it may have been delivered before). Default: epoch 0,
   * nothing refused.
   */
  resume?: { epoch: number; floor: number };
  /**
   * Given, at construction, a reader of held epoch keys as bytes (see
   * {@linkcode EpochKeys.keyBytes}), for a resumable channel that persists its receive key;
   * the bytes are secret (zero them when done). Only whoever made the decryptor gets it.
   */
  keyBytesReader?: (read: (epoch: number) => Uint8Array | undefined) => void;
}

const TAG_LENGTH = 16;
/**
 * The nonce within an epoch whose authentication, in order, starts making the next epoch's
 * key (a receiver idle early in an epoch holds one key).
 */
const PREPARE_AT = 16;

function failed(nonce: number, error: unknown): ChannelError {
  const cause = error instanceof VaultError ? undefined : error;
  return new ChannelError("decrypt-failed", `frame with nonce ${nonce} failed authentication`, {
    cause,
  });
}

/**
 * Opens transport frames, refusing repeats and too-old nonces with a `ChannelError`
 * (`replayed`, `too-old`) that leaves the decryptor usable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CipherState, Decryptor, Encryptor } from "@sealroute/sealroute/channel";
 * const encryptor = new Encryptor(await CipherState.create("AESGCM", new Uint8Array(32)));
 * const decryptor = new Decryptor(await CipherState.create("AESGCM", new Uint8Array(32)));
 * const frame = await encryptor.encrypt(new Uint8Array([7]));
 * assert.deepEqual((await decryptor.decrypt(frame)).plaintext, new Uint8Array([7]));
 * await assert.rejects(decryptor.decrypt(frame), { code: "replayed" });
 * ```
 */
export class Decryptor {
  #window: ReplayWindow;
  #keys: EpochKeys<TransportKey>;
  #pending = new Set<number>();
  // Frames being tried per epoch, so a key made for frames that all fail is let go.
  #tries = new Map<number, number>();
  #maxAhead: number;

  /** Starts at nonce 0 with `key` (the split's receiving key). */
  constructor(key: CipherState, options: DecryptorOptions = {}) {
    this.#window = new ReplayWindow(options.windowSize ?? 1024);
    this.#maxAhead = options.maxEpochsAhead ?? 2 ** 15;
    const cipher = key.cipher;
    const resume = options.resume;
    this.#keys = new EpochKeys(TransportKey.of(key), {
      open: (bytes) => TransportKey.create(cipher, bytes),
      interval: KEY_RENEWAL_INTERVAL,
      maxEpochsAhead: this.#maxAhead,
      ...(resume ? { startEpoch: resume.epoch } : {}),
    });
    if (resume && resume.floor >= 0) this.#window.markThrough(resume.floor);
    options.keyBytesReader?.((epoch) => this.#keys.keyBytes(epoch));
  }

  /** The highest nonce accepted (or refused from the start, when resumed), or -1. */
  get highest(): number {
    return this.#window.highest;
  }

  /** Epoch keys held now, usable or as bytes (one while traffic is in order). */
  get keysHeld(): number {
    return this.#keys.size;
  }

  /** How many of the held epoch keys are usable keys (the rest are 32 raw bytes each). */
  get usableKeysHeld(): number {
    return this.#keys.usableSize;
  }

  /** How many epoch keys were derived so far (one per epoch, however many frames asked). */
  get keysDerived(): number {
    return this.#keys.derivations;
  }

  /**
   * Whether `frame` would be opened (or refused) without waiting for epoch keys to be
   * derived: false only for a frame that points past every epoch derived so far.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CipherState, Decryptor } from "@sealroute/sealroute/channel";
   * const decryptor = new Decryptor(await CipherState.create("AESGCM", new Uint8Array(32)));
   * const far = new Uint8Array(40);
   * new DataView(far.buffer).setBigUint64(0, 2n ** 20n - 1n);
   * assert.equal(decryptor.isKeyed(new Uint8Array(40)), true);
   * assert.equal(decryptor.isKeyed(far), false);
   * decryptor.close();
   * ```
   */
  isKeyed(frame: Uint8Array): boolean {
    return this.epochsToDerive(frame) === 0;
  }

  /**
   * How many epoch keys must still be derived before `frame` can be opened (0 when it is
   * keyed, see {@linkcode Decryptor.isKeyed}).
   */
  epochsToDerive(frame: Uint8Array): number {
    const epoch = this.epochOf(frame);
    return epoch < 0 ? 0 : this.#keys.toDerive(epoch);
  }

  /** The key epoch `frame`'s nonce falls in, or -1 for a frame refused before any key. */
  epochOf(frame: Uint8Array): number {
    if (frame.length < 8 + TAG_LENGTH) return -1;
    const nonce = readNonce(frame);
    return nonce < 0 ? -1 : this.#keys.epochOf(nonce);
  }

  /** Stops any key derivation and fails frames still waiting for a key (`closed`). */
  close(): void {
    this.#keys.close();
  }

  /**
   * Authenticates and decrypts one frame. Errors (all `ChannelError`): `truncated`,
   * `bad-nonce`, `replayed`, `too-old`, `too-far-ahead`, `decrypt-failed`.
   */
  async decrypt(frame: Uint8Array): Promise<{ nonce: number; plaintext: Uint8Array }> {
    const nonce = this.#admit(frame);
    this.#pending.add(nonce);
    const epoch = this.#keys.epochOf(nonce);
    this.#tries.set(epoch, (this.#tries.get(epoch) ?? 0) + 1);
    let plaintext: Uint8Array | undefined;
    try {
      const key = await this.#keys.keyForNonce(nonce);
      plaintext = await key.open(nonce, frame.subarray(8));
    } catch (error) {
      if (error instanceof ChannelError) throw error;
      throw failed(nonce, error);
    } finally {
      this.#pending.delete(nonce);
      const left = this.#tries.get(epoch)! - 1;
      if (left > 0) this.#tries.set(epoch, left);
      else {
        this.#tries.delete(epoch);
        if (plaintext === undefined) this.#keys.release(epoch);
      }
    }
    this.#commit(nonce);
    return { nonce, plaintext };
  }

  /**
   * Like {@linkcode Decryptor.decrypt}, synchronously, when nothing needs awaiting: the
   * frame's epoch key is at hand and opens synchronously (a native AEAD), and no frame of
   * its epoch is being opened asynchronously. Otherwise returns undefined having changed
   * nothing (call `decrypt`). Refusals throw the same `ChannelError`s.
   */
  decryptSync(frame: Uint8Array): { nonce: number; plaintext: Uint8Array } | undefined {
    if (frame.length < 8 + TAG_LENGTH) return undefined;
    const nonce = readNonce(frame);
    if (nonce < 0) return undefined;
    const epoch = this.#keys.epochOf(nonce);
    const key = this.#keys.usableNow(epoch);
    if (!key || this.#tries.has(epoch) || !key.isSync(frame.length - 8 - TAG_LENGTH)) {
      return undefined;
    }
    if (epoch - this.#keys.newest > this.#maxAhead) return undefined;
    this.#admit(frame);
    const plaintext = key.openSync(nonce, frame.subarray(8));
    if (plaintext === undefined) return undefined;
    if (plaintext === null) {
      this.#keys.release(epoch);
      throw failed(nonce, undefined);
    }
    this.#commit(nonce);
    return { nonce, plaintext };
  }

  // The frame's nonce when the frame may be tried, else the refusal.
  #admit(frame: Uint8Array): number {
    if (frame.length < 8 + TAG_LENGTH) {
      throw new ChannelError(
        "truncated",
        `expected a frame of at least 24 bytes, got ${frame.length}`,
      );
    }
    const nonce = readNonce(frame);
    if (nonce < 0) {
      throw new ChannelError("bad-nonce", "frame nonce is beyond the supported range (2^53)");
    }
    const verdict = this.#pending.has(nonce) ? "replayed" : this.#window.check(nonce);
    if (verdict !== "ok") {
      throw new ChannelError(verdict, `refused frame with nonce ${nonce}: ${verdict}`);
    }
    return nonce;
  }

  #commit(nonce: number): void {
    this.#window.record(nonce);
    const epoch = this.#keys.epochOf(nonce);
    const oldest = this.#keys.epochOf(Math.max(0, this.#window.highest - this.#window.size + 1));
    this.#keys.commit(epoch, oldest);
    // Traffic well into an epoch: its successor's key is made now, before its first frame.
    if (nonce % KEY_RENEWAL_INTERVAL === PREPARE_AT && nonce === this.#window.highest) {
      this.#keys.prepare(epoch + 1);
    }
    // Keys of older epochs whose every nonce arrived can go (RFC 6479-style bookkeeping);
    // only epochs inside the window can still hold keys.
    for (let e = oldest; e < this.#keys.newest; e++) {
      if (
        this.#keys.holds(e) &&
        this.#window.allRecorded(e * KEY_RENEWAL_INTERVAL, KEY_RENEWAL_INTERVAL)
      ) {
        this.#keys.drop(e);
      }
    }
  }
}
