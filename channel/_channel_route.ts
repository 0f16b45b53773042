// Internal: a secure channel's route to its peer, which outlives the link under it. Frames
// go out along it; when its first hop (a transport connection) stops with an error, what
// arrived before is handled first, and then, by the channel's options, the channel closes
// with route-lost or waits: frames are held in a bounded queue until the peer's next frame
// shows a new route (a responder follows it, as Ockam's does), or until the grace time is
// over. A reconnecting link keeps its first hop alive across reconnects, so a channel over
// one never sees a loss unless the link gives up.
import { ChannelError } from "../errors.ts";
import type { Address } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import { Route } from "../routing/route.ts";
import { RoutedMessage } from "../routing/routed_message.ts";

/** Default time a responder waits for its peer on a new route after its link was lost, in ms. */
export const DEFAULT_ROUTE_LOSS_GRACE = 30_000;
/** Default bound on the frames held while the route is down. */
export const DEFAULT_MAX_HELD_FRAMES = 1024;
/** Default bound on the bytes of those frames. */
export const DEFAULT_MAX_HELD_BYTES: number = 4 * 1024 * 1024;

/** How a channel route behaves on loss (from the channel's options and role). */
export interface ChannelRouteOptions {
  node: Node;
  route: Route;
  /** Close at once on loss (true), never (false), or wait `grace` ms (undefined). */
  closeOnLoss: boolean | undefined;
  /** Waiting time after a loss; 0 closes at once. */
  grace: number;
  maxHeldFrames: number;
  maxHeldBytes: number;
  /** Resolves once the frames that arrived before a loss were handled. */
  settle: () => Promise<void>;
  /** Whether the channel is closed already. */
  isClosed: () => boolean;
  /** Closes the channel with `route-lost`. */
  lost: (error: ChannelError) => void;
  log: (level: "debug" | "warn" | "error", message: string, error: unknown) => void;
  /** The peer, for messages. */
  peer: string;
}

interface Held {
  message: RoutedMessage;
  from: Address | undefined;
  size: number;
}

export class ChannelRoute {
  readonly #o: ChannelRouteOptions;
  #route: Route;
  #down: Error | undefined;
  #held: Held[] = [];
  #heldBytes = 0;
  #room: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;
  #flushing: Promise<void> | undefined;

  constructor(options: ChannelRouteOptions) {
    this.#o = options;
    this.#route = options.route;
    this.#watch();
  }

  get route(): Route {
    return this.#route;
  }

  /** Frames held while the route is down. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * Sends `payload` along the route (with return route `[from]`, or empty), or holds it while
   * the route is down; waits while the hold queue is full (backpressure into the channel).
   */
  async send(payload: Uint8Array, from?: Address): Promise<void> {
    const message = new RoutedMessage({
      onwardRoute: this.#route,
      returnRoute: from ? [from] : [],
      payload,
    });
    if (this.#down || this.#held.length > 0) return await this.#hold(message, from);
    try {
      await this.#o.node.deliver(message, from ? { from } : {});
    } catch (error) {
      if (!this.#firstHopGone() || this.#o.closeOnLoss === true) throw error;
      // The link went between the check and the send: hold it for the route's return.
      this.#wentDown(error instanceof Error ? error : new Error(String(error)));
      await this.#hold(message, from);
    }
  }

  /**
   * Sends `payload` (return route empty) at once when nothing needs awaiting (the route is
   * up, nothing is held and the next hop takes it now, see `Node.tryDeliver`); false
   * otherwise, having done nothing (call `send`).
   */
  trySend(payload: Uint8Array): boolean {
    if (this.#down || this.#held.length > 0) return false;
    return this.#o.node.tryDeliver(
      new RoutedMessage({ onwardRoute: this.#route, returnRoute: Route.EMPTY, payload }),
    );
  }

  /** A peer's frame arrived showing `next` as the way back: follow it, and send what waits. */
  follow(next: Route): void {
    if (next.equals(this.#route) && !this.#down) return;
    // A frame that came over the link now gone does not bring the route back.
    const hop = next.next;
    if (this.#down && hop?.isLocal && !this.#o.node.hasWorker(hop)) return;
    this.#route = next;
    this.#watch();
    if (!this.#down) return;
    this.#down = undefined;
    clearTimeout(this.#timer);
    this.#o.log("debug", "the route to the peer is back", undefined);
    this.#startFlush();
  }

  /** Stops watching; held frames are dropped (logged with their count). */
  close(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    clearTimeout(this.#timer);
    if (this.#held.length > 0) {
      this.#o.log(
        "warn",
        `dropped ${this.#held.length} frames held while the route was down`,
        this.#down,
      );
    }
    this.#held = [];
    this.#heldBytes = 0;
    for (const wake of this.#room.splice(0)) wake();
  }

  async #hold(message: RoutedMessage, from: Address | undefined): Promise<void> {
    const size = message.payload.length;
    while (
      this.#held.length >= this.#o.maxHeldFrames ||
      (this.#held.length > 0 && this.#heldBytes + size > this.#o.maxHeldBytes)
    ) {
      if (this.#o.isClosed()) return;
      await new Promise<void>((resolve) => this.#room.push(resolve));
    }
    if (this.#o.isClosed()) return;
    this.#held.push({ message, from, size });
    this.#heldBytes += size;
    if (!this.#down) this.#startFlush();
  }

  /** Sends what is held, once at a time (a flush in progress takes what is added). */
  #startFlush(): void {
    this.#flushing ??= this.#flush().finally(() => this.#flushing = undefined);
  }

  async #flush(): Promise<void> {
    while (!this.#down && this.#held.length > 0 && !this.#o.isClosed()) {
      const { message, from, size } = this.#held[0]!;
      try {
        await this.#o.node.deliver(
          message.with({ onwardRoute: this.#route }),
          from ? { from } : {},
        );
      } catch (error) {
        if (this.#firstHopGone()) {
          this.#wentDown(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.#o.log("warn", "could not send a frame towards the peer", error);
      }
      this.#held.shift();
      this.#heldBytes -= size;
      this.#room.shift()?.();
    }
  }

  #firstHopGone(): boolean {
    const hop = this.#route.next;
    return hop !== undefined && hop.isLocal && !this.#o.node.hasWorker(hop);
  }

  #watch(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    const hop = this.#route.next;
    if (!hop?.isLocal || !this.#o.node.hasWorker(hop)) return;
    const watched = this.#route;
    this.#unwatch = this.#o.node.onWorkerStopped(hop, (reason) => {
      if (!reason || this.#o.isClosed()) return;
      // Frames that arrived before the loss come first: a Close sent just before the link
      // dropped is seen as closed-by-peer, not route-lost.
      void this.#o.settle().then(() => {
        if (this.#o.isClosed() || this.#route !== watched) return;
        this.#wentDown(reason);
      });
    });
  }

  #wentDown(reason: Error): void {
    if (this.#down) return;
    this.#down = reason;
    const close = this.#o.closeOnLoss === true ||
      (this.#o.closeOnLoss === undefined && this.#o.grace <= 0);
    const error = new ChannelError("route-lost", `the link to ${this.#o.peer} was lost`, {
      cause: reason,
    });
    if (close) return this.#o.lost(error);
    this.#o.log("warn", "the link to the peer was lost; waiting for it to come back", reason);
    if (this.#o.closeOnLoss === false) return;
    this.#timer = setTimeout(() => {
      if (this.#down && !this.#o.isClosed()) this.#o.lost(error);
    }, this.#o.grace);
  }
}
