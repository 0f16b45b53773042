/**
 * A link between two Sealroute nodes whose bytes travel as NATS messages on per-pair
 * subjects, `sealroute.link.<from>.<to>`.
 *
 * The link is a {@linkcode Duplex} carrying Ockam's TCP protocol (version byte, then
 * length-prefixed frames) and is attached with `attachDuplex`, so it is a full `Connection`:
 * framing limits, heartbeats, dead-link detection and flow control are the TCP transport's.
 * NATS sees routing frames and what Sealroute puts in them: secure-channel ciphertext.
 *
 * This module is portable: it takes any NATS client shaped like {@linkcode NatsLinkClient}
 * (the official `@nats-io/*` `NatsConnection` is one); `fleet/deno` opens one.
 *
 * @module
 */
import { TransportError } from "../errors.ts";
import type { Node } from "../routing/mod.ts";
import { attachDuplex, type AttachOptions, type Connection } from "../transport/connection.ts";
import type { Duplex } from "../transport/duplex.ts";
import { NatsDuplex, type NatsLinkClient } from "./_nats_duplex.ts";

export type { NatsLinkClient, NatsLinkMessage, NatsLinkSubscription } from "./_nats_duplex.ts";

/** Options for {@linkcode natsLinkDuplex}. */
export interface NatsLinkDuplexOptions {
  /** This node's name in the fleet: letters, digits, `_` and `-`, 1 to 64 characters. */
  from: string;
  /** The peer node's name, same alphabet. */
  to: string;
  /** Largest NATS message payload published, in bytes (writes are split). Default 64 KiB. */
  maxChunk?: number;
  /**
   * Bytes received but not yet read above which what arrives is dropped unacknowledged
   * (the sender resends it later: a subscription cannot pause the publisher). Default 8 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Bytes sent and not yet acknowledged by the peer (kept for resending) above which writes
   * wait: the link's send window. Default 4 MiB.
   */
  maxUnackedBytes?: number;
}

/** Options for {@linkcode connectNatsLink}: the duplex's and `attachDuplex`'s. */
export interface NatsLinkOptions extends NatsLinkDuplexOptions, AttachOptions {}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The subject `from` publishes a link's bytes on: `sealroute.link.<from>.<to>`.
 *
 * @throws {TransportError} code `bad-name` when a name is not a plain NATS token.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkSubject } from "@sealroute/sealroute/fleet";
 * assert.equal(linkSubject("a", "b"), "sealroute.link.a.b");
 * ```
 */
export function linkSubject(from: string, to: string): string {
  for (const name of [from, to]) {
    if (!NAME.test(name)) {
      throw new TransportError("bad-name", "fleet node names are 1-64 of [A-Za-z0-9_-]");
    }
  }
  return `sealroute.link.${from}.${to}`;
}

/**
 * A {@linkcode Duplex} over NATS: writes are published on `linkSubject(from, to)` and what
 * arrives on `linkSubject(to, from)` is read. Each NATS message is `[kind u8][seq u32 BE]
 * [bytes]`: data, close, hello, hello-ack, ack, nack.
 *
 * Core NATS is at-most-once: it drops what nobody subscribes to yet, and what a broker node
 * held when it died. So writes wait until the peer is known to listen (each side says hello
 * every 200 ms until it hears from the other), the receiver acknowledges what arrived in
 * order, drops duplicates and asks for a resend from the first gap, and the sender keeps
 * what is unacknowledged (at most `maxUnackedBytes`, then writes wait) and resends it on
 * request or after 250 ms without progress. The byte stream stays whole across a broker
 * node's death. Hellos carry a random session id: a peer heard with a new one restarted and
 * fails the link with `TransportError` `peer-restarted`; a peer asking for bytes already
 * acknowledged fails it with `link-gap`, and malformed messages with `bad-message`. What is
 * buffered stays bounded: `maxQueuedBytes` received, `maxUnackedBytes` plus one chunk sent;
 * out-of-order messages are dropped (and asked for again), never stored.
 *
 * @throws {TransportError} code `bad-name` for names that are not plain NATS tokens.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NatsLinkClient, natsLinkDuplex } from "@sealroute/sealroute/fleet";
 *
 * // A loopback stand-in for a NATS client: publish hands the message to the subscriber.
 * const subs = new Map<string, (e: Error | null, m: { data: Uint8Array }) => void>();
 * const bus: NatsLinkClient = {
 *   publish: (subject, data) => queueMicrotask(() => subs.get(subject)?.(null, { data })),
 *   subscribe: (subject, { callback }) => {
 *     subs.set(subject, callback);
 *     return { unsubscribe: () => subs.delete(subject) };
 *   },
 * };
 * const a = natsLinkDuplex(bus, { from: "a", to: "b" });
 * const b = natsLinkDuplex(bus, { from: "b", to: "a" });
 * const writer = a.writable.getWriter();
 * await writer.write(new Uint8Array([7]));
 * const { value } = await b.readable.getReader().read();
 * assert.deepEqual(value, new Uint8Array([7]));
 * writer.releaseLock();
 * await a.close();
 * await b.close();
 * ```
 */
export function natsLinkDuplex(client: NatsLinkClient, options: NatsLinkDuplexOptions): Duplex {
  return new NatsDuplex(client, {
    out: linkSubject(options.from, options.to),
    inbound: linkSubject(options.to, options.from),
    maxChunk: Math.max(1, options.maxChunk ?? 64 * 1024),
    maxQueued: options.maxQueuedBytes ?? 8 * 1024 * 1024,
    maxUnacked: options.maxUnackedBytes ?? 4 * 1024 * 1024,
  });
}

/**
 * Opens a NATS link from this node (`from`) to the fleet node `to` and attaches it to
 * `node` as a {@linkcode Connection}: messages routed to `link.route` go to the peer; what
 * the peer sends arrives on `link.flow` and reaches only workers that consume it. The peer
 * opens the mirror link (`from` and `to` swapped).
 *
 * @throws {TransportError} code `bad-name` for names that are not plain NATS tokens.
 * @example
 * ```ts ignore
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { connectNatsLink } from "@sealroute/sealroute/fleet";
 * import { connectNats } from "@sealroute/sealroute/fleet/deno";
 *
 * const nc = await connectNats(["nats://127.0.0.1:4222"]);
 * const node = new Node();
 * const link = connectNatsLink(node, nc, { from: "relay-b", to: "relay-a" });
 * startEcho(node, { consumes: [link.flow] });
 * ```
 */
export function connectNatsLink(
  node: Node,
  client: NatsLinkClient,
  options: NatsLinkOptions,
): Connection {
  const duplex = natsLinkDuplex(client, options);
  return attachDuplex(node, duplex, {
    peer: `nats ${linkSubject(options.from, options.to)}`,
    ...options,
  });
}
