/**
 * A sliding replay window over 64-bit message nonces (RFC 6479 style).
 *
 * Any nonce ahead of the highest seen is accepted (a gap is just loss), each nonce within
 * `size` behind the highest is accepted exactly once, and anything older is refused.
 * Checking and recording are separate so a frame is recorded only after it authenticates.
 *
 * @module
 */

/** Why a nonce is refused: seen before, or older than the window reaches. */
export type ReplayVerdict = "ok" | "replayed" | "too-old";

/**
 * Tracks which nonces a receiver has accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReplayWindow } from "@sealroute/sealroute/channel";
 * const window = new ReplayWindow();
 * assert.equal(window.check(5), "ok");
 * window.record(5);
 * assert.equal(window.check(5), "replayed");
 * assert.equal(window.check(3), "ok"); // reordered, still accepted once
 * ```
 */
export class ReplayWindow {
  #size: number;
  #bits: Uint32Array;
  #highest = -1;

  /** A window remembering the last `size` nonces (a multiple of 32; default 1024). */
  constructor(size = 1024) {
    if (!Number.isInteger(size) || size < 32 || size % 32 !== 0) {
      throw new RangeError(`replay window size must be a positive multiple of 32, got ${size}`);
    }
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** How many nonces behind the highest are still accepted once. */
  get size(): number {
    return this.#size;
  }

  /** The highest nonce recorded so far, or -1. */
  get highest(): number {
    return this.#highest;
  }

  /**
   * Refuses every nonce up to `floor` from now on, as if each had been recorded: a resumed
   * channel's receiver starts past every frame it may have delivered before.
   */
  markThrough(floor: number): void {
    if (floor <= this.#highest) {
      for (let n = Math.max(0, this.#highest - this.#size + 1); n <= floor; n++) this.record(n);
      return;
    }
    this.#highest = floor;
    this.#bits.fill(0xffff_ffff);
  }

  /** Whether `nonce` would be accepted now; changes nothing. */
  check(nonce: number): ReplayVerdict {
    if (nonce > this.#highest) return "ok";
    if (this.#highest - nonce >= this.#size) return "too-old";
    return this.#isSet(nonce) ? "replayed" : "ok";
  }

  /** Records `nonce` as accepted; call only after {@linkcode ReplayWindow.check} said "ok". */
  record(nonce: number): void {
    if (nonce > this.#highest) {
      const shift = this.#highest < 0 ? this.#size : nonce - this.#highest;
      if (shift >= this.#size) {
        this.#bits.fill(0);
      } else {
        for (let n = this.#highest + 1; n < nonce; n++) this.#clear(n);
      }
      this.#highest = nonce;
    }
    const slot = nonce % this.#size;
    this.#bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  /** Whether every nonce in `[start, start + count)` was recorded (false once any left the window). */
  allRecorded(start: number, count: number): boolean {
    if (this.#highest - start >= this.#size) return false;
    for (let n = start; n < start + count; n++) {
      if (n > this.#highest || !this.#isSet(n)) return false;
    }
    return true;
  }

  #isSet(nonce: number): boolean {
    const slot = nonce % this.#size;
    return (this.#bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  #clear(nonce: number): void {
    const slot = nonce % this.#size;
    this.#bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }
}
