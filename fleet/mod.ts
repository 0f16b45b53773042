/**
 * A relay fleet on NATS: several relays behind one name, any of them reaching any device.
 *
 * - {@linkcode Fleet.join} makes a relay node a member: names are claimed in a registry shared
 *   through JetStream key-value buckets ({@linkcode FleetRegistry}: one identity per name
 *   across the fleet, the same identity moves it), frames for a device at another relay go
 *   over a NATS link between the two relays ({@linkcode connectNatsLink}), and each name's
 *   store-and-forward queue is a subject of a JetStream stream
 *   ({@linkcode JetStreamRelayQueueStore}), so it outlives the relay that took the frames.
 * - Frames stay as their senders sealed them: relays and NATS see routing and ciphertext.
 *
 * This module is portable: it takes a connection from any official `@nats-io/*` transport;
 * `fleet/deno` opens one with `node:net`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkSubject } from "@sealroute/sealroute/fleet";
 * assert.equal(linkSubject("relay-a", "relay-b"), "sealroute.link.relay-a.relay-b");
 * ```
 *
 * @module
 */
export {
  connectNatsLink,
  linkSubject,
  type NatsLinkClient,
  natsLinkDuplex,
  type NatsLinkDuplexOptions,
  type NatsLinkMessage,
  type NatsLinkOptions,
  type NatsLinkSubscription,
} from "./nats_link.ts";
export { FleetRegistry, type FleetRegistryOptions, type NameRecord } from "./registry.ts";
export { type JetStreamQueueOptions, JetStreamRelayQueueStore } from "./jetstream_queue_store.ts";
export { Fleet, type FleetMember, type FleetOptions } from "./fleet_relay.ts";
