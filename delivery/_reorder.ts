// One session's receiving state, without I/O: the point up to which messages were handed
// to the application, the messages held above it (bounded by the window and a byte budget),
// duplicate detection, and the acknowledgement that describes it all.
import { DeliveryError } from "../errors.ts";
import { MAX_SACK_RANGES } from "./wire.ts";

/** A message held until the ones before it are delivered. */
export interface Held<T> {
  readonly payload: Uint8Array;
  readonly extra: T;
}

/** What {@linkcode Reorder.accept} decided for one frame. */
export type Verdict = "next" | "held" | "duplicate" | "delivered-duplicate";

export class Reorder<T> {
  readonly window: number;
  readonly maxBytes: number;
  #delivered: number; // every seq below is handed to the application
  #ready: number; // every seq below is either delivered or queued for delivery
  #held = new Map<number, Held<T>>();
  #bytes = 0;
  highWaterHeld = 0;
  highWaterBytes = 0;
  /** The seq of the newest frame taken in (what the next acknowledgement echoes). */
  echo: number;

  constructor(options: { window: number; maxBytes: number; start: number }) {
    this.window = options.window;
    this.maxBytes = options.maxBytes;
    this.#delivered = options.start;
    this.#ready = options.start;
    this.echo = options.start;
  }

  /** Every seq below this was handed to the application (the cumulative acknowledgement). */
  get delivered(): number {
    return this.#delivered;
  }
  get held(): number {
    return this.#held.size;
  }
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Takes in message `seq` (base: the sender's delivered point). `DeliveryError` and no
   * change for `out-of-window` (seq at or beyond delivered + window), `bad-base` (the sender
   * claims deliveries this end never made), `buffer-full` (no byte budget left).
   */
  accept(seq: number, base: number, payload: Uint8Array, extra: T): Verdict {
    if (base > this.#delivered) {
      throw new DeliveryError(
        "bad-base",
        `the sender claims ${base} delivered, not ${this.#delivered}`,
      );
    }
    if (seq < this.#delivered) {
      this.echo = seq;
      return "delivered-duplicate";
    }
    if (seq >= this.#delivered + this.window) {
      throw new DeliveryError(
        "out-of-window",
        `seq ${seq} outside the window ${this.#delivered}..${this.#delivered + this.window - 1}`,
      );
    }
    if (seq < this.#ready || this.#held.has(seq)) {
      this.echo = seq;
      return "duplicate";
    }
    if (this.#held.size > 0 && this.#bytes + payload.length > this.maxBytes) {
      throw new DeliveryError("buffer-full", `${this.#bytes} bytes held already`);
    }
    this.#held.set(seq, { payload, extra });
    this.echo = seq;
    this.#bytes += payload.length;
    if (this.#held.size > this.highWaterHeld) this.highWaterHeld = this.#held.size;
    if (this.#bytes > this.highWaterBytes) this.highWaterBytes = this.#bytes;
    return seq === this.#ready ? "next" : "held";
  }

  /** The messages now deliverable in order, moved out of the buffer's "ready" frontier. */
  takeReady(): { seq: number; held: Held<T> }[] {
    const out: { seq: number; held: Held<T> }[] = [];
    for (;;) {
      const held = this.#held.get(this.#ready);
      if (!held) return out;
      out.push({ seq: this.#ready, held });
      this.#ready++;
    }
  }

  /** Records that `seq` (the lowest taken and not delivered) reached the application. */
  markDelivered(seq: number): void {
    const held = this.#held.get(seq);
    if (seq !== this.#delivered || !held) throw new Error(`internal: deliver ${seq} out of turn`);
    this.#held.delete(seq);
    this.#bytes -= held.payload.length;
    this.#delivered++;
  }

  /** Held (not yet delivered) ranges, `[start, end)`, at most {@linkcode MAX_SACK_RANGES}. */
  ranges(): [number, number][] {
    const above = [...this.#held.keys()];
    above.sort((a, b) => a - b);
    const out: [number, number][] = [];
    for (const seq of above) {
      const last = out.at(-1);
      if (last && last[1] === seq) last[1] = seq + 1;
      else if (out.length === MAX_SACK_RANGES) break;
      else out.push([seq, seq + 1]);
    }
    return out;
  }

  /** Drops everything held (the session ends). */
  clear(): void {
    this.#held.clear();
    this.#bytes = 0;
  }
}
