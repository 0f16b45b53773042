// Store-and-forward for the relay service: a name whose holder's link died is held for its
// identity while frames for it wait in a RelayQueue, then forwarded in order when it is back.
import type { Address } from "./address.ts";
import type { Flow } from "./flow_controls.ts";
import type { Node } from "./node.ts";
import type { RelayQueue } from "./relay_queue.ts";
import type { Route } from "./route.ts";
import type { RoutedMessage } from "./routed_message.ts";
import { decodeTransportMessage, encodeTransportMessage } from "./transport_message_codec.ts";
import { noticeRefusal } from "./undeliverable.ts";

/** Who holds a relay and where it forwards; replaced as a whole when its identity takes over. */
export interface Registration {
  readonly identity: string | undefined;
  /** When it was made (ms since the epoch). */
  readonly since: number;
  /** The first hop of the request's return route, as counted per connection. */
  readonly hop: string;
  readonly forwardRoute: Route;
  /** The request's return route: where the holder's client listens. */
  readonly replyRoute: Route;
  unwatch: () => void;
}

/** One relay worker; it lives across takeovers, only its registration changes. */
export interface Held {
  readonly address: Address;
  registration: Registration;
  /** While its holder's link is down (store-and-forward): when the hold ends. */
  offline?: ReturnType<typeof setTimeout> | undefined;
  /** While queued frames are being forwarded after the holder came back. */
  draining?: boolean;
}

/** Least time between two `held` notices for one name, in ms. */
const HELD_NOTICE_INTERVAL = 1000;

/** Holds, parks and drains for the relay service (see `RelayServiceOptions.queue`). */
export class Parking {
  readonly #node: Node;
  readonly #queue: RelayQueue;
  /** When each name's senders were last told their frames are held. */
  readonly #heldTold = new Map<string, number>();

  constructor(node: Node, queue: RelayQueue) {
    this.#node = node;
    this.#queue = queue;
  }

  /** The holder's link died: keep the name for it, queueing, until the hold ends. */
  hold(entry: Held): void {
    const key = entry.address.valueText;
    entry.offline = setTimeout(() => {
      const dropped = this.#queue.drop(key);
      if (dropped) this.#node.logger.warn("relay queue expired", { relay: key, dropped });
      void this.#node.stopWorker(entry.address);
    }, this.#queue.maxAge);
    this.#node.logger.info("relay offline, queueing", {
      relay: key,
      identity: entry.registration.identity,
    });
  }

  /** Parks a frame for an offline (or draining) holder; a refusal is told to the sender. */
  park(entry: Held, ctx: { message: RoutedMessage; flow: Flow | undefined }): void {
    const key = entry.address.valueText;
    const frame = ctx.message.with({ onwardRoute: ctx.message.onwardRoute.popFront() });
    const identity = entry.registration.identity!;
    const refused = this.#queue.put(key, identity, encodeTransportMessage(frame));
    if (!refused) {
      // The sender learns that the device is away and its frames wait (once a second per
      // name, so refusals keep the notice budget), and does not take the silence for a lost
      // channel.
      const now = Date.now();
      if (now - (this.#heldTold.get(key) ?? 0) >= HELD_NOTICE_INTERVAL) {
        this.#heldTold.set(key, now);
        noticeRefusal(this.#node, ctx.message, ctx.flow, { code: "held", address: entry.address });
      }
      return;
    }
    this.#node.logger.warn("relay queue refused a frame", { relay: key, reason: refused });
    noticeRefusal(this.#node, ctx.message, ctx.flow, { code: refused, address: entry.address });
  }

  /**
   * Forwards what waited, oldest first; frames arriving meanwhile wait behind them. Stops
   * (the rest waits) if the holder is lost again.
   */
  async drain(entry: Held): Promise<void> {
    const key = entry.address.valueText;
    const log = this.#node.logger;
    entry.draining = true;
    this.#heldTold.delete(key);
    let sent = 0;
    try {
      while (!entry.offline) {
        const [frame] = this.#queue.take(key, 1);
        if (!frame) break;
        let message: RoutedMessage;
        try {
          message = decodeTransportMessage(frame.bytes);
        } catch (error) {
          log.warn("relay queue: a stored frame does not decode, dropped", { relay: key, error });
          continue;
        }
        const onward = message.onwardRoute.prepend(entry.registration.forwardRoute);
        await this.#node.deliver(message.with({ onwardRoute: onward }), { from: entry.address })
          .then(() => sent++, (error) => log.debug("relay: queued frame not forwarded", { error }));
      }
    } finally {
      entry.draining = false;
      if (sent) log.info("relay queue forwarded", { relay: key, frames: sent });
    }
  }
}
