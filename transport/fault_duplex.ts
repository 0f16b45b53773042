/**
 * A fault-injecting {@linkcode Duplex} for tests: wraps any duplex and, on a seeded
 * schedule or on demand, drops the link, stalls it (bytes held, no close), delays it, or
 * cuts it in the middle of a chunk. The same seed gives the same faults at the same byte
 * counts, so a failing run can be replayed.
 *
 * @module
 */
import type { Duplex } from "./duplex.ts";

/** What a fault does. */
export type FaultKind = "drop" | "stall" | "delay" | "cut";

/** One fault, after `afterBytes` bytes have crossed the duplex (both directions counted). */
export interface ScheduledFault {
  /** Bytes (read plus written) after which the fault strikes. */
  afterBytes: number;
  /** What happens. */
  kind: FaultKind;
  /** For `stall` and `delay`: how long, in ms. Default 1000 (a stall without end: `Infinity`). */
  ms?: number;
}

/** Options for {@linkcode faultDuplex}. */
export interface FaultDuplexOptions {
  /** Seed of the random schedule and of cut positions. Default 1. */
  seed?: number;
  /** Faults at fixed byte counts, in order. */
  schedule?: readonly ScheduledFault[];
  /**
   * Random faults instead: on average one every `meanBytes` bytes, of `kinds` (default
   * all four), stalls and delays lasting `ms` (default 200).
   */
  random?: { meanBytes: number; kinds?: readonly FaultKind[]; ms?: number };
}

/** A duplex with faults; also controllable by hand. */
export interface FaultDuplex extends Duplex {
  /** The seed in use (print it when a test fails). */
  readonly seed: number;
  /** What happened so far, one line per fault (`"cut at 1234"`). */
  readonly log: readonly string[];
  /** Holds every byte in both directions until `resume()`, without closing. */
  stall(): void;
  /** Lets held bytes flow again. */
  resume(): void;
  /** Closes the link abruptly, as a reset would. */
  drop(): void;
}

/**
 * Wraps `inner` so that it fails as `options` say.
 *
 * @example Stall a link by hand, then let it flow
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultDuplex, memoryDuplexPair } from "@sealroute/sealroute/transport";
 *
 * const [a, b] = memoryDuplexPair();
 * const faulty = faultDuplex(a, { seed: 7 });
 * faulty.stall();
 * const writer = faulty.writable.getWriter();
 * const written = writer.write(new Uint8Array([1, 2, 3]));
 * const reader = b.readable.getReader();
 * const read = reader.read();
 * const early = await Promise.race([read.then(() => "read"), new Promise((r) => setTimeout(() => r("held"), 20))]);
 * assert.equal(early, "held");
 * faulty.resume();
 * assert.equal((await read).value?.length, 3);
 * await written;
 * writer.releaseLock();
 * reader.releaseLock();
 * await faulty.close();
 * ```
 */
export function faultDuplex(inner: Duplex, options: FaultDuplexOptions = {}): FaultDuplex {
  return new FaultyLink(inner, options).duplex;
}

class FaultyLink {
  readonly duplex: FaultDuplex;
  readonly #inner: Duplex;
  readonly #random: () => number;
  readonly #plan: ScheduledFault[];
  readonly #randomOptions: FaultDuplexOptions["random"];
  readonly #log: string[] = [];
  #bytes = 0;
  #next: ScheduledFault | undefined;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;
  #delayUntil = 0;
  #delayMs = 0;
  #dropped = false;
  #errors: ((error: Error) => void)[] = [];

  constructor(inner: Duplex, options: FaultDuplexOptions) {
    this.#inner = inner;
    const seed = options.seed ?? 1;
    this.#random = seededRandom(seed);
    this.#plan = [...(options.schedule ?? [])].sort((x, y) => x.afterBytes - y.afterBytes);
    this.#randomOptions = options.random;
    this.#next = this.#plan.shift() ?? this.#randomFault();
    const readable = inner.readable.pipeThrough(this.#transform());
    const outgoing = this.#transform();
    void outgoing.readable.pipeTo(inner.writable).catch(() => {});
    const log = () => this.#log;
    this.duplex = {
      readable,
      writable: outgoing.writable,
      seed,
      get log() {
        return log();
      },
      close: () => this.#close(),
      stall: () => this.#stall(Infinity),
      resume: () => this.#resume(),
      drop: () => this.#drop("drop by hand"),
    };
  }

  #transform(): TransformStream<Uint8Array, Uint8Array> {
    let fail: ((error: Error) => void) | undefined;
    return new TransformStream<Uint8Array, Uint8Array>({
      start: (controller) => {
        fail = (error) => controller.error(error);
        this.#errors.push(fail);
      },
      transform: async (chunk, controller) => {
        if (this.#dropped) throw new Error("the link was dropped");
        let rest = chunk;
        while (rest.length > 0) {
          await this.#held;
          if (this.#delayUntil > Date.now()) await sleep(this.#delayMs);
          if (this.#dropped) throw new Error("the link was dropped");
          const fault = this.#next;
          const room = fault ? fault.afterBytes - this.#bytes : Infinity;
          if (room >= rest.length) {
            this.#bytes += rest.length;
            controller.enqueue(rest);
            return;
          }
          // The fault strikes inside this chunk: a cut passes what comes before it, a drop
          // waits for the chunk's end.
          const head = fault!.kind === "drop" ? rest : rest.subarray(0, Math.max(0, room));
          if (head.length > 0) controller.enqueue(head);
          this.#bytes += head.length;
          rest = rest.subarray(head.length);
          this.#next = this.#plan.shift() ?? this.#randomFault();
          this.#strike(fault!);
        }
      },
    });
  }

  #strike(fault: ScheduledFault): void {
    this.#log.push(`${fault.kind} at ${this.#bytes}`);
    switch (fault.kind) {
      case "drop":
      case "cut":
        // A cut is a drop that strikes mid-chunk: the peer sees a partial frame.
        return this.#drop(`${fault.kind} at ${this.#bytes}`);
      case "stall":
        return this.#stall(fault.ms ?? 1000);
      case "delay":
        this.#delayMs = Math.min(fault.ms ?? 1000, 50);
        this.#delayUntil = Date.now() + (fault.ms ?? 1000);
    }
  }

  #stall(ms: number): void {
    if (this.#held) return;
    this.#held = new Promise<void>((resolve) => this.#release = resolve);
    if (Number.isFinite(ms)) setTimeout(() => this.#resume(), ms);
  }

  #resume(): void {
    const release = this.#release;
    this.#held = undefined;
    this.#release = undefined;
    release?.();
  }

  #drop(why: string): void {
    if (this.#dropped) return;
    this.#dropped = true;
    const error = new Error(`fault injected: ${why}`);
    for (const fail of this.#errors) {
      try {
        fail(error);
      } catch {
        // already closed
      }
    }
    this.#resume();
    void this.#inner.close().catch(() => {});
  }

  async #close(): Promise<void> {
    this.#resume();
    await this.#inner.close();
  }

  #randomFault(): ScheduledFault | undefined {
    const random = this.#randomOptions;
    if (!random) return undefined;
    const kinds = random.kinds ?? ["drop", "stall", "delay", "cut"];
    const gap = Math.max(1, Math.round(-Math.log(1 - this.#random()) * random.meanBytes));
    const kind = kinds[Math.floor(this.#random() * kinds.length)]!;
    return { afterBytes: this.#bytes + gap, kind, ms: random.ms ?? 200 };
  }
}

/**
 * A small seeded pseudo-random generator (mulberry32) for reproducible fault and test
 * schedules: the same seed gives the same numbers in [0, 1). Not for anything secret.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "@sealroute/sealroute/transport";
 * const a = seededRandom(7), b = seededRandom(7);
 * assert.equal(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
