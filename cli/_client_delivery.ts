// The client's reliable stream (`--delivery at-least-once|exactly-once`, the default):
// messages go through a delivery sender on the session's channel to the device's receiver
// (`DELIVERY_WORKER`), and one counts as delivered only when the device's receiver has it.
// A reconnect resends at once what was out; a channel the device lost (silent while the
// relay is up) is replaced and what was not delivered is sent again on the new one (across
// that replacement exactly-once weakens to at-least-once: the device's receiver state went
// with its process; a `device --resume` resumes the channel instead and reads its receiver's
// record back, so the same sender goes on exactly once). Nothing is dropped silently: a
// message is delivered, or counted failed.
import type { SecureChannel } from "../channel/mod.ts";
import { type DeliveryLevel, type DeliverySender, reliable } from "../delivery/mod.ts";
import { DeliveryError } from "../errors.ts";
import type { Node } from "../routing/mod.ts";
import type { ReconnectingLink } from "../transport/mod.ts";
import type { ClientSession } from "./_client_session.ts";
import { DELIVERY_WORKER } from "./_device.ts";

/** Options of {@linkcode runDelivery}. */
export interface DeliveryRunOptions {
  node: Node;
  link: ReconnectingLink;
  session: ClientSession;
  level: Exclude<DeliveryLevel, "none">;
  count: number;
  size: number;
  /** Pause between messages in ms (then one at a time). Default 0. */
  interval?: number;
  /** Messages in flight at once. Default 64 (1 with an interval). */
  window?: number;
  /** Updated as messages go out and are delivered (for a progress line). */
  counters: { sent: number; delivered: number; failed: number };
}

/** What {@linkcode runDelivery} measured. */
export interface DeliveryRunResult {
  readonly delivered: number;
  readonly failed: number;
  readonly elapsedMs: number;
  /** Why the run stopped early (the session gave up), if it did. */
  readonly error?: unknown;
}

/** Sends `count` messages reliably; resolves when each is delivered or counted failed. */
export async function runDelivery(options: DeliveryRunOptions): Promise<DeliveryRunResult> {
  const { node, link, session, count, size, counters } = options;
  const interval = options.interval ?? 0;
  const window = Math.max(1, options.window ?? (interval > 0 ? 1 : 64));
  const started = performance.now();
  let sender: DeliverySender | undefined;
  let senderChannel: SecureChannel | undefined;
  let deliveredOnChannel = 0;
  let fatal: unknown;
  const senderFor = async (): Promise<DeliverySender> => {
    const channel = await session.current();
    if (!sender || senderChannel !== channel) {
      void sender?.close().catch(() => {});
      sender = reliable(node, channel, { to: DELIVERY_WORKER, level: options.level });
      if (senderChannel !== channel) deliveredOnChannel = 0;
      senderChannel = channel;
    }
    return sender;
  };
  /** The channel under a failed send closed: a refusal ends the run, else it is replaced. */
  const channelClosed = async (channel: SecureChannel): Promise<void> => {
    const reason = await channel.closed;
    if (reason?.code === "closed-by-peer" && deliveredOnChannel === 0) {
      fatal ??= reason; // the device refused this client
      return;
    }
    await session.replace(channel).catch((error) => fatal ??= error);
  };
  // After a reconnect, what was out goes again at once instead of on its timeout.
  const stopKicking = link.on((event) => {
    if (event.type === "connected") sender?.kick();
  });
  // A channel that went silent while the relay is up was lost by the device: replace it.
  let pending = 0;
  const watchdog = setInterval(() => {
    if (pending === 0 || !session.silent || !sender) return;
    if (!senderChannel) return;
    sender.fail(new DeliveryError("channel-replaced", "the device lost the channel"));
    session.replace(senderChannel).catch(() => {});
  }, 500);
  const payload = (seq: number): Uint8Array => {
    const head = new TextEncoder().encode(`${seq}\n`);
    const bytes = new Uint8Array(Math.max(size, head.length));
    bytes.set(head.subarray(0, bytes.length));
    return bytes;
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const seq = next++;
      counters.sent++;
      pending++;
      for (let attempt = 0;; attempt++) {
        if (fatal !== undefined) {
          counters.failed++;
          break;
        }
        let used: DeliverySender | undefined;
        try {
          if (attempt > 0) session.retried();
          used = await senderFor();
          await used.send(payload(seq));
          counters.delivered++;
          deliveredOnChannel++;
          session.answered();
          break;
        } catch (error) {
          // The session gave up (relay or device away too long): the rest fails with it.
          if (!(error instanceof DeliveryError)) {
            fatal ??= error;
            continue;
          }
          try {
            session.checkGiveUp(error);
          } catch (gaveUp) {
            fatal ??= gaveUp;
            continue;
          }
          if (senderChannel?.isClosed) {
            await channelClosed(senderChannel);
            continue;
          }
          // The sender failed (its channel replaced, or it gave up itself): a new one on the
          // current channel takes the message, after a breath.
          if (used && sender === used && error.code !== "channel-replaced") sender = undefined;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      pending--;
      if (interval > 0) await new Promise((resolve) => setTimeout(resolve, interval));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  } finally {
    clearInterval(watchdog);
    stopKicking();
    await sender?.close().catch(() => {});
  }
  return {
    delivered: counters.delivered,
    failed: counters.failed,
    elapsedMs: performance.now() - started,
    ...(fatal !== undefined ? { error: fatal } : {}),
  };
}
