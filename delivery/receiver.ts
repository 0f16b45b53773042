/**
 * The receiving half of reliable delivery: a worker that takes numbered messages from
 * senders (one session each), suppresses duplicates, hands messages to the application in
 * order, and acknowledges them (cumulatively and selectively) with the window it grants.
 *
 * @module
 */
import { DeliveryError, SealrouteError } from "../errors.ts";
import type { Address, AddressLike } from "../routing/address.ts";
import type { Node, WorkerContext } from "../routing/node.ts";
import { Route } from "../routing/route.ts";
import { LOCAL_INFO_IDENTIFIER, RoutedMessage } from "../routing/routed_message.ts";
import type { Held } from "./_reorder.ts";
import {
  type Extra,
  hex,
  newSession,
  recordSession,
  restoredSession,
  type Session,
} from "./_receiver_session.ts";
import { type DeliveryReceiverStateStore, loadDeliveryRecords } from "./receiver_state.ts";
import type {
  DeliveredMessage,
  DeliveryReceiverOptions,
  DeliveryReceiverStats,
} from "./options.ts";
import {
  type DataFrame,
  decodeDeliveryFrame,
  DEFAULT_MAX_FRAME_BYTES,
  type DeliveryLevel,
  encodeDeliveryFrame,
  MAX_WINDOW,
  type ResetReason,
} from "./wire.ts";

/**
 * Starts a delivery receiver at `address`; senders route to it (through a secure channel:
 * `[channel.address, address]`, with `consumes: [listener.flow]` here).
 * With `options.state` its record of what it delivered survives a restart of its process
 * (see {@linkcode DeliveryReceiverStateStore}): read back here, written before each
 * acknowledgement.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 *
 * await using node = new Node();
 * const seen: string[] = [];
 * node.startWorker("app", (ctx) => void seen.push(new TextDecoder().decode(ctx.message.payload)));
 * const receiver = startDeliveryReceiver(node, "inbox", { deliverTo: "app", window: 8 });
 * await using sender = createDeliverySender(node, { route: "inbox" });
 * await sender.send(new TextEncoder().encode("hi"));
 * await node.drained("app");
 * assert.deepEqual(seen, ["hi"]);
 * assert.equal(receiver.stats.delivered, 1);
 * ```
 */
export function startDeliveryReceiver(
  node: Node,
  address: AddressLike,
  options: DeliveryReceiverOptions,
): DeliveryReceiver {
  return new DeliveryReceiver(node, address, options);
}

/**
 * The receiving worker; see {@linkcode startDeliveryReceiver}.
 *
 * @example Closing the receiver fails what its senders still wait for
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 *
 * await using node = new Node();
 * const receiver = startDeliveryReceiver(node, "inbox", { onMessage: () => new Promise(() => {}) });
 * const sender = createDeliverySender(node, { route: "inbox" });
 * const pending = sender.send(new Uint8Array(1)).catch((e) => e.code);
 * await new Promise((r) => setTimeout(r, 10));
 * assert.equal(receiver.stats.sessions, 1);
 * await receiver.close();
 * assert.equal(await pending, "peer-closed");
 * assert(receiver.address.isLocal);
 * ```
 */
export class DeliveryReceiver implements AsyncDisposable {
  readonly #node: Node;
  readonly #address: Address;
  readonly #onMessage: ((m: DeliveredMessage) => void | Promise<void>) | undefined;
  readonly #deliverTo: Route | undefined;
  readonly #window: number;
  readonly #maxBytes: number;
  readonly #maxSessions: number;
  readonly #idle: number;
  readonly #maxFrame: number;
  readonly #onRefused: ((error: SealrouteError) => void) | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #state: DeliveryReceiverStateStore | undefined;
  readonly #bounds: { window: number; maxBytes: number };
  #chain: Promise<void> = Promise.resolve(); // level "none" deliveries, in arrival order
  #closed = false;
  #stats = {
    delivered: 0,
    duplicates: 0,
    refused: 0,
    acks: 0,
    highWaterHeld: 0,
    highWaterBytes: 0,
    restored: 0,
  };

  /** Internal: use {@linkcode startDeliveryReceiver}. */
  constructor(node: Node, address: AddressLike, options: DeliveryReceiverOptions) {
    if (!options.onMessage === !options.deliverTo) {
      throw new TypeError("a delivery receiver needs exactly one of onMessage and deliverTo");
    }
    this.#node = node;
    this.#onMessage = options.onMessage;
    this.#deliverTo = options.deliverTo === undefined ? undefined : Route.from(options.deliverTo);
    this.#window = options.window ?? 64;
    this.#maxBytes = options.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.#maxSessions = options.maxSessions ?? 64;
    this.#idle = options.sessionIdleTimeout ?? 600_000;
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#onRefused = options.onRefused;
    if (!Number.isSafeInteger(this.#window) || this.#window < 1 || this.#window > MAX_WINDOW) {
      throw new RangeError(`window must be 1..${MAX_WINDOW}`);
    }
    this.#bounds = { window: this.#window, maxBytes: this.#maxBytes };
    this.#state = options.state;
    if (this.#state) this.#restore(this.#state);
    this.#address = node.startWorker(address, (ctx) => this.#receive(ctx), {
      consumes: options.consumes ?? [],
      onStop: () => this.#end(),
    });
  }

  /** The receiver worker's address. */
  get address(): Address {
    return this.#address;
  }

  /** A snapshot of the counters. */
  get stats(): DeliveryReceiverStats {
    let held = 0;
    let heldBytes = 0;
    for (const s of this.#sessions.values()) {
      held += s.reorder.held;
      heldBytes += s.reorder.bytes;
    }
    return { ...this.#stats, sessions: this.#sessions.size, held, heldBytes };
  }

  /**
   * Stops the receiver: each sender is told (a `reset`, so its pending messages fail with
   * `peer-closed` instead of waiting for their give-up time); what it held is dropped.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const told = [...this.#sessions.values()].map((s) =>
      this.#reset(s.id, s.returnRoute, "closed")
    );
    await Promise.allSettled(told);
    await this.#node.stopWorker(this.#address);
  }

  /** Closes the receiver. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // Sessions from the store come back where their record says; their senders' frames name them.
  #restore(state: DeliveryReceiverStateStore): void {
    const limits = { maxSessions: this.#maxSessions, idle: this.#idle, now: Date.now() };
    for (const r of loadDeliveryRecords(state, limits)) {
      const session = restoredSession(r, this.#bounds);
      this.#sessions.set(session.key, session);
      this.#stats.restored++;
    }
  }

  // A session ended for good (evicted, or its messages refused): its record goes too.
  #forget(s: Session): void {
    this.#drop(s);
    this.#sessions.delete(s.key);
    try {
      this.#state?.delete(s.peer, s.hexId);
    } catch (error) {
      this.#node.logger.warn("delivery receiver could not delete a session's record", { error });
    }
  }

  #end(): void {
    this.#closed = true;
    for (const s of this.#sessions.values()) this.#drop(s);
    this.#sessions.clear();
  }

  #receive(ctx: WorkerContext): void | Promise<void> {
    const { message } = ctx;
    let frame;
    try {
      frame = decodeDeliveryFrame(message.payload, { maxFrameBytes: this.#maxFrame });
      if (frame.type !== "data") {
        throw new DeliveryError("unexpected-frame", `a ${frame.type} frame at a receiver`);
      }
    } catch (error) {
      return this.#refuse(error);
    }
    const extra = { localInfo: message.localInfo, flow: ctx.flow };
    if (frame.level === "none") {
      const held = { payload: frame.payload, extra };
      const next = this.#chain.then(() => this.#hand(frame, frame.seq, held).catch(() => {}));
      this.#chain = next;
      return next;
    }
    try {
      this.#data(frame, extra, message.returnRoute);
    } catch (error) {
      this.#refuse(error);
    }
  }

  #data(frame: DataFrame, extra: Extra, returnRoute: Route): void {
    const who = extra.localInfo[LOCAL_INFO_IDENTIFIER];
    const peer = typeof who === "string" ? who : "";
    const key = `${peer}/${hex(frame.session)}`;
    let session = this.#sessions.get(key);
    const now = Date.now();
    if (session && session.level !== frame.level) {
      throw new DeliveryError("bad-level", `session is ${session.level}, frame ${frame.level}`);
    }
    const fresh = !session;
    if (!session) {
      // A new session starts where the sender says everything before was delivered; it is
      // kept only if its first frame is accepted.
      session = newSession(peer, frame.session.slice(), frame.level, frame.base, this.#bounds);
      session.returnRoute = returnRoute;
    }
    const verdict = session.reorder.accept(frame.seq, frame.base, frame.payload, extra);
    if (fresh && !this.#admit(session, now)) {
      session.reorder.clear();
      void this.#reset(frame.session, returnRoute, "refused");
      throw new DeliveryError("too-many-sessions", `${this.#maxSessions} sessions already`);
    }
    session.returnRoute = returnRoute;
    session.lastActive = now;
    this.#stats.highWaterHeld = Math.max(this.#stats.highWaterHeld, session.reorder.highWaterHeld);
    this.#stats.highWaterBytes = Math.max(
      this.#stats.highWaterBytes,
      session.reorder.highWaterBytes,
    );
    switch (verdict) {
      case "delivered-duplicate":
        this.#stats.duplicates++;
        if (session.level === "at-least-once") {
          // No duplicate suppression at this level: the copy is handed on again.
          const copy = { payload: frame.payload, extra };
          void this.#hand(frame, frame.seq, copy).catch(() => {});
        }
        return this.#ack(session);
      case "duplicate":
        this.#stats.duplicates++;
        return this.#ack(session);
      case "held":
        return this.#ack(session); // a gap: tell the sender at once
      case "next":
        void this.#drain(session);
    }
  }

  #admit(session: Session, now: number): boolean {
    if (this.#sessions.size >= this.#maxSessions) {
      for (const s of this.#sessions.values()) {
        if (now - s.lastActive > this.#idle && !s.draining) {
          this.#forget(s);
          break;
        }
      }
    }
    if (this.#sessions.size >= this.#maxSessions) return false;
    this.#sessions.set(session.key, session);
    return true;
  }

  async #drain(s: Session): Promise<void> {
    if (s.draining) return;
    s.draining = true;
    try {
      for (;;) {
        const ready = s.reorder.takeReady();
        if (ready.length === 0) return;
        for (const { seq, held } of ready) {
          if (s.ended) return;
          // Recorded once: by the application inside its own transaction, or after it.
          let recorded = false;
          const commit = () => {
            if (recorded) return;
            if (this.#state) recordSession(this.#state, s, seq + 1);
            recorded = true;
          };
          try {
            await this.#hand({ session: s.id, level: s.level }, seq, held, commit);
            commit(); // a store that fails to write: the session is reset, not acknowledged
          } catch (error) {
            if (s.ended) return;
            this.#node.logger.warn("delivery receiver could not hand a message on", {
              code: error instanceof SealrouteError ? error.code : "failed",
            });
            void this.#reset(s.id, s.returnRoute, "refused");
            this.#forget(s);
            return;
          }
          if (s.ended) return;
          s.reorder.markDelivered(seq);
          this.#stats.delivered++;
          if (++s.sinceAck >= Math.max(1, this.#window >> 2)) this.#sendAck(s);
          else this.#ack(s, true);
        }
      }
    } finally {
      s.draining = false;
    }
  }

  async #hand(
    frame: { session: Uint8Array; level: DeliveryLevel },
    seq: number,
    held: Held<Extra>,
    commit: () => void = () => {},
  ): Promise<void> {
    const { localInfo, flow } = held.extra;
    if (this.#onMessage) {
      try {
        await this.#onMessage({
          payload: held.payload,
          seq,
          session: hex(frame.session),
          level: frame.level,
          localInfo,
          commit,
        });
      } catch (error) {
        // The application had the message; its failure is its own.
        this.#node.logger.warn("delivery receiver: onMessage failed", { error });
      }
      return;
    }
    const message = new RoutedMessage({
      onwardRoute: this.#deliverTo!,
      returnRoute: [],
      payload: held.payload,
      localInfo,
    });
    await this.#node.deliver(message, { from: this.#address, flow });
  }

  // An acknowledgement now, or (`later`) once the messages queued now are handled.
  #ack(s: Session, later = false): void {
    if (!later) return this.#sendAck(s);
    s.ackTimer ??= setTimeout(() => {
      s.ackTimer = undefined;
      this.#sendAck(s);
    }, 0);
  }

  #sendAck(s: Session): void {
    clearTimeout(s.ackTimer);
    s.ackTimer = undefined;
    s.sinceAck = 0;
    if (s.ended || this.#closed) return;
    this.#stats.acks++;
    const payload = encodeDeliveryFrame({
      type: "ack",
      session: s.id,
      cumulative: s.reorder.delivered,
      window: this.#window,
      echo: s.reorder.echo,
      ranges: s.reorder.ranges(),
    });
    void this.#send(s.returnRoute, payload);
  }

  #reset(session: Uint8Array, route: Route, reason: ResetReason): void {
    this.#send(route, encodeDeliveryFrame({ type: "reset", session, reason }));
  }

  #send(route: Route, payload: Uint8Array): void {
    if (route.length === 0) return;
    const message = new RoutedMessage({
      onwardRoute: route,
      returnRoute: [this.#address],
      payload,
    });
    // Acknowledgements are idempotent: a lost one is repeated by the next.
    this.#node.deliver(message, { from: this.#address }).catch(() => {});
  }

  #drop(s: Session): void {
    s.ended = true;
    clearTimeout(s.ackTimer);
    s.ackTimer = undefined;
    s.reorder.clear();
  }

  #refuse(error: unknown): void {
    const typed = error instanceof SealrouteError
      ? error
      : new DeliveryError("bad-frame", String(error).slice(0, 80));
    this.#stats.refused++;
    this.#node.logger.warn("delivery receiver refused a frame", { code: typed.code });
    this.#onRefused?.(typed);
  }
}
