// The sender's state, without I/O or timers: a bounded outbox of numbered messages, the
// window the receiver granted, acknowledgements (checked before they change anything),
// round-trip estimates and what is due for (re)transmission. delivery/sender.ts drives it.
import { DeliveryError } from "../errors.ts";
import type { AckFrame } from "./wire.ts";

/** One message in the outbox. */
export interface Entry {
  readonly seq: number;
  readonly payload: Uint8Array;
  /** The encoded frame, built on first transmission (its `base` field as of then). */
  frame: Uint8Array | undefined;
  /** When it first went out (ms), or -1. */
  firstSent: number;
  /** When it last went out (ms), or -1. */
  lastSent: number;
  /** Transmissions so far. */
  sends: number;
  /** Held by the receiver (selectively acknowledged), not yet delivered. */
  sacked: boolean;
  /** Waiting in the transmit queue. */
  queued: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Bounds and timing of an {@linkcode Outbox}. */
export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  initialWindow: number;
  minRto: number;
  maxRto: number;
  initialRto: number;
}

/** What an acknowledgement did. */
export interface AckResult {
  /** Entries now delivered (cumulatively acknowledged), in order. */
  delivered: Entry[];
  /** Whether it was older than one already applied (nothing changed). */
  stale: boolean;
  /** Entries the ranges show to be missing below a held one (candidates for fast retransmit). */
  holes: Entry[];
}

export class Outbox {
  readonly limits: OutboxLimits;
  #queue: (Entry | undefined)[] = [];
  #head = 0; // index in #queue of the entry with seq #base
  #base = 0; // lowest seq not yet delivered
  #next = 0; // next seq to assign
  #bytes = 0;
  #window: number;
  #srtt = -1;
  #rttvar = 0;
  #rto: number;
  #backoff = 1;
  highWaterCount = 0;
  highWaterBytes = 0;

  constructor(limits: OutboxLimits) {
    this.limits = limits;
    this.#window = limits.initialWindow;
    this.#rto = limits.initialRto;
  }

  /** Lowest seq not yet delivered. */
  get base(): number {
    return this.#base;
  }
  /** Next seq to be assigned. */
  get next(): number {
    return this.#next;
  }
  get count(): number {
    return this.#next - this.#base;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get window(): number {
    return this.#window;
  }
  /** The retransmission timeout now, backoff included. */
  get rto(): number {
    return Math.min(this.limits.maxRto, this.#rto * this.#backoff);
  }
  /** Smoothed round trip (ms), or the initial timeout before a sample. */
  get srtt(): number {
    return this.#srtt < 0 ? this.limits.initialRto : this.#srtt;
  }

  /** Whether a payload of `size` bytes fits (a lone message always fits an empty outbox). */
  hasRoom(size: number): boolean {
    if (this.count >= this.limits.maxMessages) return false;
    return this.count === 0 || this.#bytes + size <= this.limits.maxBytes;
  }

  add(payload: Uint8Array, resolve: () => void, reject: (e: Error) => void): Entry {
    const entry: Entry = {
      seq: this.#next++,
      payload,
      frame: undefined,
      firstSent: -1,
      lastSent: -1,
      sends: 0,
      sacked: false,
      queued: false,
      resolve,
      reject,
    };
    this.#queue.push(entry);
    this.#bytes += payload.length;
    if (this.count > this.highWaterCount) this.highWaterCount = this.count;
    if (this.#bytes > this.highWaterBytes) this.highWaterBytes = this.#bytes;
    return entry;
  }

  get(seq: number): Entry | undefined {
    if (seq < this.#base || seq >= this.#next) return undefined;
    return this.#queue[this.#head + seq - this.#base];
  }

  /** Whether `seq` may go out under the receiver's window. */
  inWindow(seq: number): boolean {
    return seq < this.#base + this.#window;
  }

  /** Records a transmission at `now`. */
  sent(entry: Entry, now: number): void {
    if (entry.firstSent < 0) entry.firstSent = now;
    entry.lastSent = now;
    entry.sends++;
  }

  /**
   * Applies an acknowledgement. Checked first, applied only when every part is plausible:
   * `DeliveryError` `bad-ack` for a cumulative point or range beyond what was sent.
   */
  ack(frame: AckFrame, now: number): AckResult {
    const { cumulative, ranges } = frame;
    if (cumulative > this.#next) {
      throw new DeliveryError(
        "bad-ack",
        `acknowledged up to ${cumulative}, only ${this.#next} were sent`,
      );
    }
    for (const [, end] of ranges) {
      if (end > this.#next) {
        throw new DeliveryError("bad-ack", `a range up to ${end}, only ${this.#next} were sent`);
      }
    }
    for (let seq = this.#base; seq < cumulative; seq++) {
      if ((this.get(seq)?.sends ?? 0) === 0) {
        throw new DeliveryError("bad-ack", `seq ${seq} acknowledged before it was sent`);
      }
    }
    for (const [start, end] of ranges) {
      for (let seq = Math.max(start, this.#base); seq < end; seq++) {
        if ((this.get(seq)?.sends ?? 0) === 0) {
          throw new DeliveryError("bad-ack", `seq ${seq} held before it was sent`);
        }
      }
    }
    if (frame.echo >= this.#next || (this.get(frame.echo)?.sends ?? 1) === 0) {
      throw new DeliveryError("bad-ack", `an echo of ${frame.echo}, never sent`);
    }
    if (cumulative < this.#base) return { delivered: [], stale: true, holes: [] };
    // Round trip from the frame the ack answers (Karn: only if it went out once).
    const echoed = this.get(frame.echo);
    if (echoed && echoed.sends === 1) this.#sample(now - echoed.lastSent);
    this.#window = frame.window;
    const delivered: Entry[] = [];
    while (this.#base < cumulative) {
      const entry = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined;
      this.#base++;
      this.#bytes -= entry.payload.length;
      delivered.push(entry);
    }
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (delivered.length > 0) this.#backoff = 1;
    const holes: Entry[] = [];
    let from = this.#base;
    for (const [start, end] of ranges) {
      for (let seq = from; seq < start; seq++) {
        const e = this.get(seq);
        if (e && !e.sacked) holes.push(e);
      }
      for (let seq = Math.max(start, this.#base); seq < end; seq++) {
        const e = this.get(seq);
        if (e) e.sacked = true;
      }
      from = Math.max(from, end);
    }
    return { delivered, stale: false, holes };
  }

  #sample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.#srtt < 0) {
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
    const { minRto, maxRto } = this.limits;
    this.#rto = Math.min(maxRto, Math.max(minRto, this.#srtt + 4 * this.#rttvar));
  }

  /** Doubles the timeout (after a timeout fired), up to `maxRto`. */
  backOff(): void {
    if (this.#rto * this.#backoff < this.limits.maxRto) this.#backoff *= 2;
  }

  /** Resets the backoff (the owner knows the link came back). */
  resetBackoff(): void {
    this.#backoff = 1;
  }

  /**
   * Entries in the window sent and last sent at or before `before`; held ones (selectively
   * acknowledged) only if last sent at or before `heldBefore`: a receiver may lose what it
   * held (a restart), so held is not delivered, only less urgent.
   */
  due(before: number, heldBefore = -Infinity): Entry[] {
    const out: Entry[] = [];
    for (let seq = this.#base; seq < this.#next && this.inWindow(seq); seq++) {
      const e = this.get(seq)!;
      if (e.sends > 0 && e.lastSent <= (e.sacked ? heldBefore : before)) out.push(e);
    }
    return out;
  }

  /** The oldest entry not yet delivered, if any. */
  oldest(): Entry | undefined {
    return this.get(this.#base);
  }

  /** Whether anything sent is waiting for its acknowledgement. */
  get outstanding(): boolean {
    const first = this.oldest();
    return first !== undefined && first.sends > 0;
  }

  /** Removes every entry (after a failure); returns them in order. */
  drain(): Entry[] {
    const all: Entry[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const e = this.#queue[i];
      if (e) all.push(e);
    }
    this.#queue = [];
    this.#head = 0;
    this.#base = this.#next;
    this.#bytes = 0;
    return all;
  }
}
