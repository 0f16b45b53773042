// The sender's moving parts: the transmit loop (first sends within the window, then
// retransmissions), the retransmission timer with its give-up check, and acknowledgements
// applied to the outbox. delivery/sender.ts owns it and the outbox.
import { DeliveryError, RouteError } from "../errors.ts";
import type { Address } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import type { Route } from "../routing/route.ts";
import { RoutedMessage } from "../routing/routed_message.ts";
import type { Entry, Outbox } from "./_outbox.ts";
import { type AckFrame, type DeliveryLevel, encodeData } from "./wire.ts";

const MIN_TIMER = 5;
/** A message the receiver holds is sent again after this many timeouts without delivery. */
const HELD_RESEND = 4;

/** What a transmitter works with. */
export interface TransmitterParts {
  node: Node;
  route: Route;
  address: Address;
  session: Uint8Array;
  level: DeliveryLevel;
  outbox: Outbox;
  minRto: number;
  giveUpAfter: number;
  /** Whether the sender has failed (or closed). */
  failed: () => boolean;
  fail: (error: DeliveryError) => void;
  /** Called after an acknowledgement delivered something (room in the outbox). */
  progressed: () => void;
}

export class Transmitter {
  readonly stats = {
    sent: 0,
    retransmitted: 0,
    timeouts: 0,
    delivered: 0,
    highestSent: -1,
  };
  readonly #p: TransmitterParts;
  #retransmit: Entry[] = [];
  #nextToSend = 0;
  #pumping = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(parts: TransmitterParts) {
    this.#p = parts;
  }

  /** Sends one frame along the route, from the sender, waiting for room at the next hop. */
  deliver(frame: Uint8Array): Promise<void> {
    const { node, route, address } = this.#p;
    const message = new RoutedMessage({
      onwardRoute: route,
      returnRoute: [address],
      payload: frame,
    });
    return node.deliver(message, { from: address });
  }

  /** What was sent (at or before `before`) and is undelivered goes again now; backoff resets. */
  kick(before: number): void {
    this.#p.outbox.resetBackoff();
    this.#queue(this.#p.outbox.due(before, before));
    void this.pump();
  }

  /** Applies an acknowledgement (`DeliveryError` `bad-ack` from the outbox, nothing changed). */
  ack(frame: AckFrame): void {
    const { outbox, minRto } = this.#p;
    const now = Date.now();
    const result = outbox.ack(frame, now);
    for (const entry of result.delivered) {
      this.stats.delivered++;
      entry.resolve();
    }
    // Holes below what the receiver holds go again at once, unless just sent.
    const quick = Math.max(minRto, outbox.srtt);
    this.#queue(result.holes.filter((e) => e.sends > 0 && now - e.lastSent >= quick));
    if (result.delivered.length > 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#p.progressed();
    }
    void this.pump();
    this.#arm();
  }

  /** Stops the timer and forgets queued retransmissions. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#retransmit = [];
  }

  #queue(entries: Entry[]): void {
    for (const e of entries) {
      if (e.queued) continue;
      e.queued = true;
      e.sacked = false; // the next acknowledgement says again whether it is held
      this.#retransmit.push(e);
    }
  }

  /** Sends what is due: retransmissions first, then new messages the window allows. */
  async pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const { outbox, session, level } = this.#p;
    try {
      while (!this.#p.failed()) {
        let entry = this.#retransmit.shift();
        if (entry) {
          entry.queued = false;
          if (entry.seq < outbox.base || entry.sacked) continue;
        } else if (this.#nextToSend < outbox.next && outbox.inWindow(this.#nextToSend)) {
          entry = outbox.get(this.#nextToSend++);
          if (!entry) continue;
        } else break;
        if (entry.sends > 0) this.stats.retransmitted++;
        else this.stats.sent++;
        const frame = encodeData(session, level, outbox.base, entry.seq, entry.payload);
        outbox.sent(entry, Date.now());
        if (entry.seq > this.stats.highestSent) this.stats.highestSent = entry.seq;
        this.#arm();
        try {
          await this.deliver(frame);
        } catch (error) {
          if (error instanceof RouteError && error.code !== "mailbox-full") {
            this.#p.fail(
              new DeliveryError("route-lost", `cannot send: ${error.message}`, { cause: error }),
            );
          }
          // Anything else (a transport that could not connect): the timer sends it again.
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#p.failed() || !this.#p.outbox.outstanding) return;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(MIN_TIMER, this.#p.outbox.rto));
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#p.failed()) return;
    const { outbox, giveUpAfter } = this.#p;
    const now = Date.now();
    const oldest = outbox.oldest();
    if (oldest && oldest.firstSent >= 0 && now - oldest.firstSent > giveUpAfter) {
      this.#p.fail(
        new DeliveryError("gave-up", `message ${oldest.seq} undelivered after ${giveUpAfter} ms`),
      );
      return;
    }
    const rto = outbox.rto;
    const due = outbox.due(now - rto, now - HELD_RESEND * rto);
    if (due.length > 0) {
      this.stats.timeouts++;
      outbox.backOff();
      this.#queue(due);
      void this.pump();
    }
    this.#arm();
  }
}
