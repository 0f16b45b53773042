/**
 * The options, per-call options and counters of the delivery sender and receiver.
 *
 * @module
 */
import type { SealrouteError } from "../errors.ts";
import type { AddressLike } from "../routing/address.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { LocalInfo } from "../routing/routed_message.ts";
import type { RouteLike } from "../routing/route.ts";
import type { DeliveryReceiverStateStore } from "./receiver_state.ts";
import type { DeliveryLevel } from "./wire.ts";

/** When `send` resolves: the receiver handed the message on, or the outbox took it. */
export type SendUntil = "delivered" | "accepted";

/** Options of {@linkcode createDeliverySender}. */
export interface DeliverySenderOptions {
  /** Route to the receiver worker, e.g. `[channel.address, "inbox"]`. */
  route: RouteLike;
  /** Default `"exactly-once"`. `"none"` sends each message once, with no outbox. */
  level?: DeliveryLevel;
  /** Messages the outbox holds (sent and not yet delivered, or waiting). Default 1024. */
  maxMessages?: number;
  /** Payload bytes the outbox holds (a lone larger message still fits). Default 8 MiB. */
  maxBytes?: number;
  /** Largest payload, in bytes. Default 1 MiB (the receiver's default too). */
  maxMessageBytes?: number;
  /** A full outbox: `"wait"` for room (default) or fail with `outbox-full`. */
  whenFull?: "wait" | "error";
  /** Default for `send`: resolve once `"delivered"` (default) or `"accepted"`. */
  until?: SendUntil;
  /** Messages out before the receiver's first acknowledgement grants its window. Default 32. */
  initialWindow?: number;
  /** Retransmission timeout before any round trip was measured, in ms. Default 300. */
  initialRto?: number;
  /** Smallest retransmission timeout, in ms. Default 20. */
  minRto?: number;
  /** Largest retransmission timeout (after backoff), in ms. Default 5000. */
  maxRto?: number;
  /**
   * A message not delivered this long after it first went out fails the sender with
   * `gave-up` (and every message still in the outbox with it), in ms. Default 60 000.
   */
  giveUpAfter?: number;
  /** How long `close()` waits for the outbox to empty, in ms. Default 5000. */
  closeTimeout?: number;
  /** Flows acknowledgements arrive on. Default: the flow the route's first hop produces. */
  consumes?: readonly Flow[];
  /** The sender worker's address. Default: a random one. */
  address?: AddressLike;
  /** Told of every peer frame refused (lying, malformed, foreign), with its typed error. */
  onRefused?: (error: SealrouteError) => void;
}

/** Per-call options of {@linkcode DeliverySender.send}. */
export interface DeliverySendOptions {
  /** Overrides the sender's `whenFull`. */
  whenFull?: "wait" | "error";
  /** Overrides the sender's `until`. */
  until?: SendUntil;
  /** Stops waiting for room (rejects with `DeliveryError` `aborted`). */
  signal?: AbortSignal;
}

/** Counters of a {@linkcode DeliverySender}, for tests and monitoring. */
export interface DeliverySenderStats {
  /** Messages in the outbox now (sent and unacknowledged, or waiting for the window). */
  readonly queued: number;
  /** Their payload bytes. */
  readonly queuedBytes: number;
  /** The most messages the outbox ever held (never above `maxMessages`). */
  readonly highWaterMessages: number;
  /** The most payload bytes it ever held (never above `maxBytes`, but for a lone message). */
  readonly highWaterBytes: number;
  /** First transmissions. */
  readonly sent: number;
  /** Retransmissions (timeouts, holes the receiver reported, `kick`). */
  readonly retransmitted: number;
  /** Retransmission timeouts that fired (each one backs the timeout off). */
  readonly timeouts: number;
  /** Messages acknowledged as delivered. */
  readonly delivered: number;
  /** Messages rejected (gave up, peer closed, ...). */
  readonly failed: number;
  /** Peer frames refused. */
  readonly refused: number;
  /** The window the receiver granted last. */
  readonly window: number;
  /** The highest seq sent so far (−1 before any). */
  readonly highestSent: number;
  /** The retransmission timeout now, in ms. */
  readonly rto: number;
  /** The smoothed round trip, in ms. */
  readonly srtt: number;
}

/** A message handed to the application. */
export interface DeliveredMessage {
  /** The payload the sender sent. */
  readonly payload: Uint8Array;
  /** Its sequence number in its session. */
  readonly seq: number;
  /** The session (one per sender), in hex. */
  readonly session: string;
  /** The level the sender chose. */
  readonly level: DeliveryLevel;
  /** The local info the frame arrived with (a secure channel's peer identifier, ...). */
  readonly localInfo: LocalInfo;
  /**
   * Records the message as delivered in the receiver's `state` now, synchronously (a no-op
   * without a store, for a copy, or when called again). Call it inside your own transaction
   * on the store's database (`SqliteDeliveryReceiverState.database`) to make your effect and
   * the record one atomic commit: then a crash at any point neither loses nor repeats the
   * effect. If you do not call it, the receiver records the message once `onMessage`
   * settled. It throws if the store fails to write.
   */
  readonly commit: () => void;
}

/** Options of {@linkcode startDeliveryReceiver}. */
export interface DeliveryReceiverOptions {
  /** Called with each message, in order; the next waits for it to settle. */
  onMessage?: (message: DeliveredMessage) => void | Promise<void>;
  /**
   * Or: a local route each payload is passed on to (waiting for mailbox room), with the
   * frame's local info and flow: behind a channel, that worker must consume the same flow
   * (the listener's). A route that refuses resets the session (the sender fails).
   */
  deliverTo?: RouteLike;
  /** Messages per session beyond the delivered point a sender may have out. Default 64. */
  window?: number;
  /** Payload bytes held per session (out-of-order and not yet handed on). Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Sessions at once; a new one beyond is reset (`refused`). Default 64. */
  maxSessions?: number;
  /** A session idle this long may make room for a new one, in ms. Default 600 000. */
  sessionIdleTimeout?: number;
  /** Largest frame, in bytes. Default 1 MiB + 64. */
  maxFrameBytes?: number;
  /** Flows the worker receives from (a secure channel listener's). Default: none (local only). */
  consumes?: readonly Flow[];
  /** Told of every frame refused, with its typed error. */
  onRefused?: (error: SealrouteError) => void;
  /**
   * Where each session's delivered point is kept, so that a receiver started again with the
   * same store (after its process was killed) knows its senders' sessions and suppresses
   * what it delivered before. The record of a message is written after `onMessage` settled
   * (or inside it, with `commit`) and before any acknowledgement covers it. Default: none
   * (in memory only: a restarted receiver starts each session again at the sender's `base`).
   */
  state?: DeliveryReceiverStateStore;
}

/** Counters of a {@linkcode DeliveryReceiver}. */
export interface DeliveryReceiverStats {
  /** Sessions now. */
  readonly sessions: number;
  /** Messages held now (out of order, or waiting for the application), all sessions. */
  readonly held: number;
  /** Their payload bytes. */
  readonly heldBytes: number;
  /** The most messages one session ever held (never above `window`). */
  readonly highWaterHeld: number;
  /** The most bytes one session ever held (never above `maxBufferedBytes`, but one message). */
  readonly highWaterBytes: number;
  /** Messages handed to the application. */
  readonly delivered: number;
  /** Copies that arrived again (suppressed, or at `at-least-once` below the delivered point, redelivered). */
  readonly duplicates: number;
  /** Frames refused. */
  readonly refused: number;
  /** Acknowledgements sent. */
  readonly acks: number;
  /** Sessions read back from `state` at start. */
  readonly restored: number;
}
