/**
 * Heartbeats and dead-link detection for a connection: Ockam's empty-onward-route message
 * (which Ockam peers read and ignore) is sent on an idle link, and a link on which nothing
 * arrives for too long is declared dead.
 *
 * @module
 */
import { TransportError } from "../errors.ts";

/** Default interval between heartbeats on an idle link, in ms. */
export const DEFAULT_HEARTBEAT_INTERVAL = 5_000;
/** Default time with nothing received after which a link is dead, in ms. */
export const DEFAULT_DEAD_AFTER = 30_000;

/** Heartbeat and dead-link options of a connection. */
export interface LivenessOptions {
  /**
   * Sends a heartbeat when nothing was written for this long, in ms; 0 sends none.
   * Default {@linkcode DEFAULT_HEARTBEAT_INTERVAL}.
   */
  heartbeatInterval?: number;
  /**
   * Declares the link dead (`TransportError` `dead-link`) when nothing arrived for this long,
   * in ms; 0 never does. Default {@linkcode DEFAULT_DEAD_AFTER}. It applies once the peer
   * has sent a heartbeat (a peer that never does, such as an Ockam node, is not timed out),
   * or from the start with `expectHeartbeats`.
   */
  deadAfter?: number;
  /** The peer is known to send heartbeats (a Sealroute node): detect a dead link from the start. */
  expectHeartbeats?: boolean;
}

/**
 * The liveness of one connection: `received`/`sent` are called as bytes move; a timer sends
 * heartbeats through `beat` and reports a dead link through `dead`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Liveness } from "@sealroute/sealroute/transport";
 *
 * let beats = 0;
 * let dead: Error | undefined;
 * const liveness = new Liveness({ heartbeatInterval: 5, deadAfter: 30, expectHeartbeats: true }, {
 *   beat: () => beats++,
 *   dead: (error) => dead = error,
 * });
 * await new Promise((r) => setTimeout(r, 60));
 * liveness.stop();
 * assert(beats > 0 && dead?.message.includes("nothing received"));
 * ```
 */
export class Liveness {
  readonly #interval: number;
  readonly #deadAfter: number;
  #watching: boolean;
  #lastReceived = Date.now();
  #lastSent = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #beat: () => void;
  readonly #dead: (error: TransportError) => void;

  /** Starts the timer; `beat` writes one heartbeat, `dead` closes the link. */
  constructor(
    options: LivenessOptions,
    actions: { beat: () => void; dead: (error: TransportError) => void },
  ) {
    this.#interval = options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL;
    this.#deadAfter = options.deadAfter ?? DEFAULT_DEAD_AFTER;
    this.#watching = options.expectHeartbeats ?? false;
    this.#beat = actions.beat;
    this.#dead = actions.dead;
    const ticks = [this.#interval, this.#deadAfter / 4].filter((t) => t > 0);
    if (ticks.length > 0) {
      this.#timer = setInterval(() => this.#tick(), Math.max(1, Math.min(...ticks)));
    }
  }

  /** Something arrived (`heartbeat`: it was one, so the peer sends them). */
  received(heartbeat = false): void {
    this.#lastReceived = Date.now();
    if (heartbeat) this.#watching = true;
  }

  /** Something was written. */
  sent(): void {
    this.#lastSent = Date.now();
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = Date.now();
    const silent = now - this.#lastReceived;
    if (this.#watching && this.#deadAfter > 0 && silent >= this.#deadAfter) {
      this.stop();
      this.#dead(
        new TransportError(
          "dead-link",
          `nothing received for ${silent} ms (limit ${this.#deadAfter} ms)`,
        ),
      );
      return;
    }
    if (this.#interval > 0 && now - this.#lastSent >= this.#interval) {
      this.#lastSent = now;
      this.#beat();
    }
  }
}
