/**
 * Reliable delivery as its own layer: a sender worker and a receiver worker on the route
 * inside a secure channel (the channel's wire format is unchanged; a peer without the layer
 * still talks over a plain channel). Sequence numbers, cumulative and selective
 * acknowledgements, retransmission on timeout and on {@linkcode DeliverySender.kick},
 * duplicate suppression and in-order delivery, a window the receiver grants, and a sender
 * outbox bounded in messages and bytes. Levels: `none`, `at-least-once`, `exactly-once`.
 * Wire format: WIRE.md.
 *
 * What survives a restart: the sender's outbox is in memory (a sender that dies loses what it
 * had not delivered; its callers saw those promises pending). The receiver's record of what
 * it delivered survives when it is given a `state` store ({@linkcode MemoryDeliveryReceiverState},
 * or the SQLite one in `@sealroute/sealroute/delivery/deno`): the record of each message is
 * durable before any acknowledgement covers it, so a receiver killed and started again with
 * the same store (its channel resumed) suppresses what it delivered before and the sender
 * goes on in the same session. One window remains: a crash after `onMessage` had its effect
 * and before the record was written delivers that message again after the restart. Close it
 * by calling `message.commit()` inside the application's own transaction on the store's
 * database, or by deduplicating on `(message.session, message.seq)` in the application.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { createDeliverySender, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 *
 * await using node = new Node();
 * let count = 0;
 * startDeliveryReceiver(node, "inbox", { onMessage: () => void count++ });
 * await using sender = createDeliverySender(node, { route: "inbox", maxMessages: 4 });
 * for (let i = 0; i < 10; i++) await sender.send(new Uint8Array(8));
 * assert.equal(count, 10);
 * ```
 *
 * @module
 */
export { createDeliverySender, DeliverySender } from "./sender.ts";
export { DeliveryReceiver, startDeliveryReceiver } from "./receiver.ts";
export {
  checkDeliveryRecord,
  type DeliveryReceiverStateStore,
  type DeliverySessionRecord,
  MAX_PEER_LENGTH,
  MemoryDeliveryReceiverState,
} from "./receiver_state.ts";
export type {
  DeliveredMessage,
  DeliveryReceiverOptions,
  DeliveryReceiverStats,
  DeliverySenderOptions,
  DeliverySenderStats,
  DeliverySendOptions,
  SendUntil,
} from "./options.ts";
export { type ChannelLike, reliable, type ReliableOptions } from "./reliable.ts";
export {
  type AckFrame,
  type DataFrame,
  decodeDeliveryFrame,
  DEFAULT_MAX_FRAME_BYTES,
  DELIVERY_WIRE_VERSION,
  type DeliveryFrame,
  type DeliveryLevel,
  encodeDeliveryFrame,
  MAX_SACK_RANGES,
  MAX_WINDOW,
  type ResetFrame,
  type ResetReason,
  SESSION_ID_LENGTH,
} from "./wire.ts";
export { DeliveryError } from "../errors.ts";
