/**
 * The sending half of reliable delivery: a worker that numbers messages, keeps them in a
 * bounded outbox until the receiver acknowledges them, retransmits on timeout (and on
 * {@linkcode DeliverySender.kick}), and sends no more than the receiver's window.
 *
 * @module
 */
import { DeliveryError, RouteError, SealrouteError } from "../errors.ts";
import { Address } from "../routing/address.ts";
import type { Node, WorkerContext } from "../routing/node.ts";
import { Route } from "../routing/route.ts";
import { Outbox } from "./_outbox.ts";
import { Transmitter } from "./_transmitter.ts";
import type { DeliverySenderOptions, DeliverySenderStats, DeliverySendOptions } from "./options.ts";
import {
  decodeDeliveryFrame,
  DEFAULT_MAX_FRAME_BYTES,
  type DeliveryLevel,
  encodeData,
  SESSION_ID_LENGTH,
} from "./wire.ts";

interface Waiter {
  payload: Uint8Array;
  resolve: () => void;
  reject: (error: Error) => void;
  entryResolve: () => void;
  entryReject: (error: Error) => void;
}

/**
 * Starts a delivery sender on `node` towards a receiver (see
 * {@linkcode startDeliveryReceiver}) at the end of `options.route`.
 *
 * @example Exactly once, in order, through a local route
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 *
 * await using node = new Node();
 * const got: number[] = [];
 * startDeliveryReceiver(node, "inbox", { onMessage: (m) => void got.push(m.payload[0]!) });
 * await using sender = createDeliverySender(node, { route: "inbox" });
 * await Promise.all([1, 2, 3].map((n) => sender.send(new Uint8Array([n]))));
 * assert.deepEqual(got, [1, 2, 3]);
 * ```
 */
export function createDeliverySender(node: Node, options: DeliverySenderOptions): DeliverySender {
  return new DeliverySender(node, options);
}

/**
 * The sending worker; see {@linkcode createDeliverySender}.
 *
 * @example Counters show what the outbox held
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 *
 * await using node = new Node();
 * startDeliveryReceiver(node, "inbox", { onMessage: () => {} });
 * await using sender = createDeliverySender(node, { route: "inbox", maxMessages: 2 });
 * await Promise.all([sender.send(new Uint8Array(1)), sender.send(new Uint8Array(1)), sender.send(new Uint8Array(1))]);
 * assert.equal(sender.stats.delivered, 3);
 * assert(sender.stats.highWaterMessages <= 2);
 * assert.equal(sender.level, "exactly-once");
 * assert(sender.address.isLocal);
 * ```
 */
export class DeliverySender implements AsyncDisposable {
  readonly #node: Node;
  readonly #route: Route;
  readonly #address: Address;
  readonly #level: DeliveryLevel;
  readonly #session = crypto.getRandomValues(new Uint8Array(SESSION_ID_LENGTH));
  readonly #outbox: Outbox;
  readonly #o: Required<
    Omit<DeliverySenderOptions, "route" | "consumes" | "address" | "onRefused">
  >;
  readonly #onRefused: ((error: SealrouteError) => void) | undefined;
  readonly #waiters: Waiter[] = [];
  readonly #tx: Transmitter;
  #refused = 0;
  #failed = 0;
  #failure: DeliveryError | undefined;
  #closedFlag = false;
  #resolveClosed!: (error: DeliveryError | undefined) => void;
  readonly #closed = new Promise<DeliveryError | undefined>((r) => this.#resolveClosed = r);
  #unwatch: (() => void) | undefined;
  #drainedWaiters: (() => void)[] = [];

  /** Internal: use {@linkcode createDeliverySender}. */
  constructor(node: Node, options: DeliverySenderOptions) {
    this.#node = node;
    this.#route = Route.from(options.route);
    this.#level = options.level ?? "exactly-once";
    this.#o = {
      level: this.#level,
      maxMessages: options.maxMessages ?? 1024,
      maxBytes: options.maxBytes ?? 8 * 1024 * 1024,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_FRAME_BYTES - 64,
      whenFull: options.whenFull ?? "wait",
      until: options.until ?? "delivered",
      initialWindow: options.initialWindow ?? 32,
      initialRto: options.initialRto ?? 300,
      minRto: options.minRto ?? 20,
      maxRto: options.maxRto ?? 5000,
      giveUpAfter: options.giveUpAfter ?? 60_000,
      closeTimeout: options.closeTimeout ?? 5000,
    };
    for (const key of ["maxMessages", "maxBytes", "maxMessageBytes", "initialWindow"] as const) {
      const v = this.#o[key];
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new RangeError(`${key} must be a positive integer`);
      }
    }
    this.#onRefused = options.onRefused;
    this.#outbox = new Outbox(this.#o);
    const first = this.#route.next;
    if (!first) throw new RouteError("empty-route", "a delivery sender needs a route");
    const consumes = options.consumes ??
      (first.isLocal ? [node.flowControls.producerFlow(first)].filter((f) => f !== undefined) : []);
    this.#address = node.startWorker(
      options.address ?? Address.random(),
      (ctx) => this.#receive(ctx),
      {
        consumes,
        onStop: (reason) =>
          this.fail(new DeliveryError("closed", "the sender stopped", { cause: reason })),
      },
    );
    this.#tx = new Transmitter({
      node,
      route: this.#route,
      address: this.#address,
      session: this.#session,
      level: this.#level,
      outbox: this.#outbox,
      minRto: this.#o.minRto,
      giveUpAfter: this.#o.giveUpAfter,
      failed: () => this.#failure !== undefined,
      fail: (error) => this.fail(error),
      progressed: () => {
        this.#wake();
        if (this.#outbox.count === 0) { for (const r of this.#drainedWaiters.splice(0)) r(); }
      },
    });
    if (first.isLocal && node.hasWorker(first)) {
      // Deferred: a reset the first hop sent as it stopped is handled first.
      this.#unwatch = node.onWorkerStopped(first, () => {
        setTimeout(() => {
          this.fail(new DeliveryError("route-lost", `the route's first hop '${first}' stopped`));
        }, 0);
      });
    }
  }

  /** The sender worker's address (acknowledgements come back to it). */
  get address(): Address {
    return this.#address;
  }

  /** The delivery level of every message this sender sends. */
  get level(): DeliveryLevel {
    return this.#level;
  }

  /** Resolves when the sender closes: `undefined` after a clean `close()`, else the failure. */
  get closed(): Promise<DeliveryError | undefined> {
    return this.#closed;
  }

  /** A snapshot of the counters. */
  get stats(): DeliverySenderStats {
    return {
      ...this.#tx.stats,
      failed: this.#failed,
      refused: this.#refused,
      queued: this.#outbox.count,
      queuedBytes: this.#outbox.bytes,
      highWaterMessages: this.#outbox.highWaterCount,
      highWaterBytes: this.#outbox.highWaterBytes,
      window: this.#outbox.window,
      rto: this.#outbox.rto,
      srtt: this.#outbox.srtt,
    };
  }

  /**
   * Sends one message. Resolves once the receiver handed it to its application
   * (`until: "delivered"`, the default) or once the outbox took it (`"accepted"`: a later
   * failure then shows in {@linkcode DeliverySender.closed}). Level `"none"`: once the
   * next hop took it. Rejects with `DeliveryError`: `outbox-full` (`whenFull: "error"`),
   * `too-large`, `gave-up`, `peer-closed`, `peer-refused`, `route-lost`, `closed`, `aborted`.
   * The payload must not change until the promise settles.
   *
   * @example A full outbox as a typed error
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * import { DeliveryError } from "@sealroute/sealroute/errors";
   * import { createDeliverySender } from "@sealroute/sealroute/delivery";
   *
   * await using node = new Node();
   * node.startWorker("silent", () => {}); // never acknowledges
   * const sender = createDeliverySender(node, { route: "silent", maxMessages: 1, whenFull: "error" });
   * await sender.send(new Uint8Array(1), { until: "accepted" });
   * const full = await sender.send(new Uint8Array(1)).catch((e) => e);
   * assert(full instanceof DeliveryError && full.code === "outbox-full");
   * sender.fail(new DeliveryError("closed", "done"));
   * assert.equal((await sender.closed)?.code, "closed");
   * ```
   */
  async send(payload: Uint8Array, options: DeliverySendOptions = {}): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#closedFlag) throw new DeliveryError("closed", "the sender is closed");
    if (payload.length > this.#o.maxMessageBytes) {
      throw new DeliveryError(
        "too-large",
        `${payload.length} bytes (max ${this.#o.maxMessageBytes})`,
      );
    }
    if (this.#level === "none") {
      const seq = this.#tx.stats.sent++; // numbered, though nothing waits on the numbers
      const frame = encodeData(this.#session, "none", seq, seq, payload);
      await this.#tx.deliver(frame).catch((error) => {
        throw new DeliveryError("not-sent", "the next hop refused the message", { cause: error });
      });
      return;
    }
    const until = options.until ?? this.#o.until;
    let entryResolve!: () => void;
    let entryReject!: (error: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      entryResolve = resolve;
      entryReject = reject;
    });
    if (until === "accepted") done.catch(() => {});
    if (this.#outbox.hasRoom(payload.length) && this.#waiters.length === 0) {
      this.#outbox.add(payload, entryResolve, entryReject);
    } else {
      if ((options.whenFull ?? this.#o.whenFull) === "error") {
        throw new DeliveryError(
          "outbox-full",
          `the outbox holds ${this.#outbox.count} messages, ${this.#outbox.bytes} bytes`,
        );
      }
      await this.#waitForRoom({
        payload,
        resolve: () => {},
        reject: () => {},
        entryResolve,
        entryReject,
      }, options.signal);
    }
    void this.#tx.pump();
    if (until === "delivered") await done;
  }

  /**
   * Retransmits at once every message sent and not yet acknowledged, and resets the
   * timeout backoff: call it when the link under the route came back (a reconnect). With
   * `sentBefore` (a `Date.now()` time, e.g. when the link was lost), only messages last sent
   * at or before it: those sent while the link was down waited in its queue and are not lost.
   *
   * @example Resend after a reconnecting link is back
   * ```ts
   * import { Node } from "@sealroute/sealroute/routing";
   * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
   *
   * await using node = new Node();
   * startDeliveryReceiver(node, "inbox", { onMessage: () => {} });
   * await using sender = createDeliverySender(node, { route: "inbox" });
   * // With a reconnecting link:
   * //   let lostAt = 0;
   * //   link.on((e) => e.type === "lost" ? lostAt = Date.now() : e.type === "connected" && sender.kick({ sentBefore: lostAt }));
   * sender.kick();
   * await sender.send(new Uint8Array(1));
   * ```
   */
  kick(options: { sentBefore?: number } = {}): void {
    if (this.#failure || this.#outbox.count === 0) return;
    this.#tx.kick(options.sentBefore ?? Infinity);
  }

  /**
   * Same as {@linkcode DeliverySender.kick}.
   *
   * @example
   * ```ts
   * import { Node } from "@sealroute/sealroute/routing";
   * import { createDeliverySender } from "@sealroute/sealroute/delivery";
   * await using node = new Node();
   * await using sender = createDeliverySender(node, { route: "inbox" });
   * sender.resend(); // nothing to resend yet
   * ```
   */
  resend(): void {
    this.kick();
  }

  /**
   * Waits (at most `closeTimeout`) for the outbox to empty, then stops the sender;
   * messages still undelivered are rejected with `DeliveryError` `closed`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
   *
   * await using node = new Node();
   * startDeliveryReceiver(node, "inbox", { onMessage: () => {} });
   * const sender = createDeliverySender(node, { route: "inbox" });
   * void sender.send(new Uint8Array(1), { until: "accepted" });
   * await sender.close(); // waits for it to be delivered
   * assert.equal(await sender.closed, undefined);
   * assert.equal(sender.stats.delivered, 1);
   * ```
   */
  async close(): Promise<void> {
    if (this.#closedFlag) return;
    this.#closedFlag = true;
    if (this.#outbox.count > 0 && !this.#failure) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#drainedWaiters.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, this.#o.closeTimeout)),
      ]);
      clearTimeout(timer);
    }
    this.fail(new DeliveryError("closed", "the sender closed before the message was delivered"));
    await this.#node.stopWorker(this.#address);
  }

  /** Closes the sender. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Ends the sender with `error`: every message in the outbox and every waiter is rejected
   * with it. For owners that learn the peer is gone (a closed channel).
   */
  fail(error: DeliveryError): void {
    const clean = this.#closedFlag && this.#outbox.count === 0 && this.#failure === undefined;
    if (this.#failure) return;
    this.#failure = error;
    this.#closedFlag = true;
    this.#tx.stop();
    this.#unwatch?.();
    for (const entry of this.#outbox.drain()) {
      this.#failed++;
      entry.reject(error);
    }
    for (const w of this.#waiters.splice(0)) w.reject(error);
    for (const r of this.#drainedWaiters.splice(0)) r();
    this.#resolveClosed(clean ? undefined : error);
    void this.#node.stopWorker(this.#address);
  }

  // Resolves once #wake put the waiter's message in the outbox.
  #waitForRoom(waiter: Waiter, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new DeliveryError("aborted", "stopped waiting for room in the outbox"));
        this.#wake();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      waiter.resolve = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      waiter.reject = (error) => {
        signal?.removeEventListener("abort", onAbort);
        reject(error);
      };
      this.#waiters.push(waiter);
    });
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#outbox.hasRoom(this.#waiters[0]!.payload.length)) {
      const w = this.#waiters.shift()!;
      this.#outbox.add(w.payload, w.entryResolve, w.entryReject);
      w.resolve();
    }
    void this.#tx.pump();
  }

  #receive(ctx: WorkerContext): void {
    let frame;
    try {
      frame = decodeDeliveryFrame(ctx.message.payload, { maxFrameBytes: 4096 });
      if (!sameBytes(frame.session, this.#session)) {
        throw new DeliveryError("unknown-session", "a frame for another session");
      }
      if (frame.type === "data") throw new DeliveryError("unexpected-frame", "data at a sender");
      if (frame.type === "reset") {
        const code = frame.reason === "closed" ? "peer-closed" : "peer-refused";
        this.fail(new DeliveryError(code, `the receiver reset the session (${frame.reason})`));
        return;
      }
      this.#tx.ack(frame);
    } catch (error) {
      const typed = error instanceof SealrouteError
        ? error
        : new DeliveryError("bad-frame", String(error).slice(0, 80));
      this.#refused++;
      this.#node.logger.warn("delivery sender refused a frame", { code: typed.code });
      this.#onRefused?.(typed);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
