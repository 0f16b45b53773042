/**
 * The receiving half of a secure channel's transport phase: Ockam's frames and keys,
 * with a receiver that survives loss and reordering (`decryptor.rs` keeps a window of
 * 32 and one previous key; this one keeps a window of `windowSize` nonces and catches up
 * across up to 2^15 key epochs, 2^20 lost messages, in one step).
 *
 * Work per unauthenticated frame is bounded: a frame costs one AEAD open, plus the
 * derivation of epoch keys it points to that were never derived before (each at most
 * once, and never more than 2^15 ahead of the newest authenticated epoch: ≈ 2.5 s of CPU
 * and ≈ 6 MB of heap, once, for a forged frame at the bound). Nothing is recorded unless the
 * frame authenticates.
 *
 * @module
 */
import { ChannelError, VaultError } from "../errors.ts";
import { CipherState } from "./cipher_state.ts";
import { KEY_RENEWAL_INTERVAL } from "./encryptor.ts";
import { EpochKeys } from "./epoch_keys.ts";
import { ReplayWindow } from "./replay_window.ts";

/** Options of {@linkcode Decryptor}. */
export interface DecryptorOptions {
  /** Nonces behind the newest that are still accepted once. Default 1024 (a multiple of 32). */
  windowSize?: number;
  /** How many epochs of 32 nonces a frame may skip ahead. Default 2^15 (2^20 lost messages). */
  maxEpochsAhead?: number;
}

const EMPTY = new Uint8Array();
const TAG_LENGTH = 16;

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
  #keys: EpochKeys<CipherState>;
  #pending = new Set<number>();

  /** Starts at nonce 0 with `key` (the split's receiving key). */
  constructor(key: CipherState, options: DecryptorOptions = {}) {
    this.#window = new ReplayWindow(options.windowSize ?? 1024);
    const cipher = key.cipher;
    this.#keys = new EpochKeys(key, {
      open: (bytes) => CipherState.create(cipher, bytes),
      interval: KEY_RENEWAL_INTERVAL,
      maxEpochsAhead: options.maxEpochsAhead ?? 2 ** 15,
    });
  }

  /** Epoch keys held now, usable or as bytes (one while traffic is in order). */
  get keysHeld(): number {
    return this.#keys.size;
  }

  /** How many of the held epoch keys are usable keys (the rest are 32 raw bytes each). */
  get usableKeysHeld(): number {
    return this.#keys.usableSize;
  }

  /**
   * Authenticates and decrypts one frame. Errors (all `ChannelError`): `truncated`,
   * `bad-nonce`, `replayed`, `too-old`, `too-far-ahead`, `decrypt-failed`.
   */
  async decrypt(frame: Uint8Array): Promise<{ nonce: number; plaintext: Uint8Array }> {
    if (frame.length < 8 + TAG_LENGTH) {
      throw new ChannelError(
        "truncated",
        `expected a frame of at least 24 bytes, got ${frame.length}`,
      );
    }
    const big = new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ChannelError("bad-nonce", "frame nonce is beyond the supported range (2^53)");
    }
    const nonce = Number(big);
    const verdict = this.#pending.has(nonce) ? "replayed" : this.#window.check(nonce);
    if (verdict !== "ok") {
      throw new ChannelError(verdict, `refused frame with nonce ${nonce}: ${verdict}`);
    }
    this.#pending.add(nonce);
    let plaintext: Uint8Array;
    try {
      const key = await this.#keys.keyForNonce(nonce);
      plaintext = await key.decryptAt(big, EMPTY, frame.subarray(8));
    } catch (error) {
      if (error instanceof ChannelError) throw error;
      const cause = error instanceof VaultError ? undefined : error;
      throw new ChannelError("decrypt-failed", `frame with nonce ${nonce} failed authentication`, {
        cause,
      });
    } finally {
      this.#pending.delete(nonce);
    }
    this.#commit(nonce);
    return { nonce, plaintext };
  }

  #commit(nonce: number): void {
    this.#window.record(nonce);
    const epoch = this.#keys.epochOf(nonce);
    const oldest = this.#keys.epochOf(Math.max(0, this.#window.highest - this.#window.size + 1));
    this.#keys.commit(epoch, oldest);
    // Keys of older epochs whose every nonce arrived can go (RFC 6479-style bookkeeping).
    for (const e of this.#keys.heldEpochs()) {
      if (
        e < this.#keys.newest &&
        this.#window.allRecorded(e * KEY_RENEWAL_INTERVAL, KEY_RENEWAL_INTERVAL)
      ) {
        this.#keys.drop(e);
      }
    }
  }
}
