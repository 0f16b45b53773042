// OCKAM_WIRE §7: the relay (forwarding) service and its client.
import { Address } from "./address.ts";
import { decodeBareString, encodeBareString } from "./bare.ts";
import type { Flow } from "./flow_controls.ts";
import { joinLinks } from "./join_links.ts";
import type { Node } from "./node.ts";
import type { AccessHook, WorkerOptions } from "./node_options.ts";
import { Route } from "./route.ts";
import { LOCAL_INFO_IDENTIFIER, type RoutedMessage } from "./routed_message.ts";
import type { RelayQueue } from "./relay_queue.ts";
import { type Held, Parking, type Registration } from "./_relay_parking.ts";
import {
  quote,
  RELAY_PREFIX,
  RELAY_REFUSAL_PREFIX,
  RELAY_REGISTER,
  RELAY_SERVICE_ADDRESS,
  STATIC_RELAY_SERVICE_ADDRESS,
} from "./_relay_common.ts";

/** Options for {@linkcode startRelayService}. */
export interface RelayServiceOptions {
  /** Service address. Default {@linkcode RELAY_SERVICE_ADDRESS}. */
  address?: string;
  /** Extra addresses served by the same service. Default `[STATIC_RELAY_SERVICE_ADDRESS]`. */
  aliases?: readonly string[];
  /** Prefix of relay worker addresses. Default {@linkcode RELAY_PREFIX}. */
  prefix?: string;
  /** Access control on registration requests (e.g. require a role in `localInfo`). */
  incoming?: AccessHook;
  /**
   * Flows the service and its relays hear from (a TCP listener's `flow`, a secure-channel
   * listener's `flow`): registrations and messages to relays arrive over connections or
   * channels, and reach only consumers of their flow. Default: none (local workers only).
   */
  consumes?: readonly Flow[];
  /** Relays the service holds at once, all peers together. Default 4096. */
  maxRelays?: number;
  /**
   * Relays held through one connection: requests are counted by the first hop of their
   * return route (the connection's sender worker, or a channel's encryptor). Default 32.
   */
  maxRelaysPerConnection?: number;
  /**
   * Relays held by one identity (the request's `localInfo[LOCAL_INFO_IDENTIFIER]`, set by
   * secure channels), over all its connections. Default 64.
   */
  maxRelaysPerIdentity?: number;
  /** Longest requested name, in UTF-8 bytes without the prefix. Default 128. */
  maxNameBytes?: number;
  /**
   * Longest forward route (the request's return route without its last hop), in
   * addresses. Every forwarded frame gets it in front, so it bounds the work a relay adds
   * to each frame. Default 16.
   */
  maxForwardRouteLength?: number;
  /**
   * Store-and-forward: when the link of a name's holder dies, the name stays held for the
   * same identity (for the queue's `maxAge`) and frames sent to it wait in this queue,
   * bounded (see {@linkcode RelayQueue}); they are forwarded in order when the same
   * identity registers the name again, and dropped (counted as expired) if it does not come
   * back in time. A frame a bound refuses is answered with an undeliverable notice
   * (`queue-full`, `queue-limit`, `frame-too-large`). Names queued in a persistent store are
   * held again when the service starts. Registrations without an identity (not through a
   * secure channel) are not queued for. Default: none (a dead link frees its name at once).
   */
  queue?: RelayQueue;
  /**
   * Someone who must agree before a name is claimed here, after the checks of this service
   * and before its own claim (a fleet's shared registry: one identity per name across every
   * relay). It resolves a refusal's text, answered as `relay-refused`, or `undefined`.
   */
  arbiter?: RelayArbiter;
}

/** See {@linkcode RelayServiceOptions.arbiter}. */
export interface RelayArbiter {
  /** Whether `identity` may claim the relay at `key` (e.g. `forward_to_sensor`) here. */
  claim(key: string, identity: string | undefined): Promise<string | undefined>;
}

const DEFAULT_MAX_RELAYS = 4096;
const DEFAULT_MAX_RELAYS_PER_CONNECTION = 32;
const DEFAULT_MAX_RELAYS_PER_IDENTITY = 64;
const DEFAULT_MAX_NAME_BYTES = 128;
const DEFAULT_MAX_FORWARD_ROUTE_LENGTH = 16;

/** A running relay service; see {@linkcode startRelayService}. */
export interface RelayService {
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The service address. */
  readonly address: Address;
  /** Addresses of the relays currently registered (e.g. `forward_to_default`). */
  relays(): string[];
  /**
   * The relays currently registered and who holds them (read-only snapshot): the relay
   * address, the name without the prefix, the holder's identifier (`undefined` for a
   * registration that did not come through a secure channel) and when the current
   * registration was made (ms since the epoch; a takeover renews it).
   */
  registrations(): {
    /** The relay worker's address, e.g. `forward_to_sensor`. */
    readonly relay: string;
    /** The registered name, without the prefix, e.g. `sensor`. */
    readonly name: string;
    /** The holder's identifier, or `undefined` when it registered without a channel. */
    readonly identity: string | undefined;
    /** When the current registration was made, in ms since the epoch. */
    readonly since: number;
    /** Whether the holder's link is up (false: held for it, queueing; see `queue`). */
    readonly online: boolean;
    /** Frames waiting for it in the store-and-forward queue (0 without one). */
    readonly queued: number;
  }[];
  /**
   * Holds `key` (e.g. `forward_to_sensor`) for `identity` as if its holder's link had just
   * died: frames for it are queued, and the identity's next registration drains them. Does
   * nothing when the name is held already or there is no queue.
   */
  hold(key: string, identity: string): void;
  /**
   * Stops the relay at `key` and lets go of its queued frames without dropping them from
   * their store (another relay of a fleet took the name over). Resolves once it stopped.
   */
  release(key: string): Promise<void>;
  /** Forwards frames queued for `key` now, when its holder is online (after they were added). */
  drain(key: string): void;
  /** Stops the service, its aliases and every relay. */
  close(): Promise<void>;
}

type RefusalCode = "relay-refused" | "relay-limit";

interface Refusal {
  readonly code: RefusalCode;
  readonly text: string;
}

const encoder = new TextEncoder();

/**
 * Starts the relay service on `node` (OCKAM_WIRE §7).
 *
 * A request is a BARE String: `"register"` (random name) or the wanted name. The service
 * starts a relay at `prefix + name` whose forward route is the request's return route
 * without its last hop, and replies to the return route with the BARE String
 * `prefix + name` from the relay's address. A message reaching the relay has the relay
 * popped off its onward route and the forward route put in front.
 *
 * A relay lives as long as the first hop of its forward route (normally the connection
 * the request came over): when that worker stops the relay stops and its name is free.
 * A held name may only be taken over by the same identity, read from the request's
 * `localInfo[LOCAL_INFO_IDENTIFIER]` (set by secure channels); otherwise the reply is
 * `error:relay-refused: ...`, which {@linkcode createRelay} turns into a `RouteError`.
 * Checking a name and claiming it is one step, so of concurrent claimants exactly the
 * rules above hold whatever the order; a takeover moves the relay to the new forward
 * route in place (messages queued at the relay go the new way).
 *
 * Registrations are bounded (see {@linkcode RelayServiceOptions}): in all, per connection,
 * per identity, in name length and in forward-route length. A request past a bound is
 * answered `error:relay-limit: ...` (a `RouteError` code `relay-limit` from
 * {@linkcode createRelay}); a relay going away frees its share of every bound.
 *
 * @throws {RangeError} for a bound that is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRelay, Node, startEcho, startRelayService } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * await using _service = startRelayService(node);
 * startEcho(node);
 * await using relay = await createRelay(node, [], "demo", { timeout: 1000 });
 * assert(relay.address.toString() === "forward_to_demo");
 * // Through the relay to the client node's echo service.
 * const reply = await node.request(relay.route.append("echo"), new Uint8Array([1]), { timeout: 1000 });
 * assert(reply.payload[0] === 1);
 * ```
 */
export function startRelayService(node: Node, options: RelayServiceOptions = {}): RelayService {
  const prefix = options.prefix ?? RELAY_PREFIX;
  const serviceAddress = Address.local(options.address ?? RELAY_SERVICE_ADDRESS);
  const aliases = (options.aliases ?? [STATIC_RELAY_SERVICE_ADDRESS]).map((a) => Address.local(a));
  const maxRelays = bound("maxRelays", options.maxRelays, DEFAULT_MAX_RELAYS);
  const maxPerConnection = bound(
    "maxRelaysPerConnection",
    options.maxRelaysPerConnection,
    DEFAULT_MAX_RELAYS_PER_CONNECTION,
  );
  const maxPerIdentity = bound(
    "maxRelaysPerIdentity",
    options.maxRelaysPerIdentity,
    DEFAULT_MAX_RELAYS_PER_IDENTITY,
  );
  const maxNameBytes = bound("maxNameBytes", options.maxNameBytes, DEFAULT_MAX_NAME_BYTES);
  const maxForwardRouteLength = bound(
    "maxForwardRouteLength",
    options.maxForwardRouteLength,
    DEFAULT_MAX_FORWARD_ROUTE_LENGTH,
  );
  const held = new Map<string, Held>();
  const perHop = new Map<string, number>();
  const perIdentity = new Map<string, number>();
  const log = node.logger;

  const refuse = async (
    request: RoutedMessage,
    from: Address,
    { code, text }: Refusal,
  ): Promise<void> => {
    log.warn("relay service refused a request", {
      reason: text,
      returnRoute: quote(request.returnRoute.toString()),
    });
    try {
      await node.send(
        request.returnRoute,
        encodeBareString(`${RELAY_REFUSAL_PREFIX}${code}: ${text}`),
        { from },
      );
    } catch (error) {
      log.debug("relay service: refusal not delivered", { error });
    }
  };

  // Counting: a registration holds one unit of its hop's and its identity's share.
  const count = (registration: Registration, delta: 1 | -1): void => {
    bump(perHop, registration.hop, delta);
    if (registration.identity !== undefined) bump(perIdentity, registration.identity, delta);
  };

  /** Makes `registration` the one `entry` forwards for: counts it and watches its hop. */
  const adopt = (entry: Held, registration: Registration, watched: Address): void => {
    entry.registration = registration;
    count(registration, 1);
    registration.unwatch = node.onWorkerStopped(watched, () => {
      // A stale watch (the registration was replaced meanwhile) must not stop the relay.
      if (entry.registration !== registration) return;
      if (parking && registration.identity !== undefined) {
        release(registration);
        parking.hold(entry);
      } else {
        void node.stopWorker(entry.address);
      }
    });
  };

  const queue = options.queue;
  const parking = queue ? new Parking(node, queue) : undefined;
  /** Gives back what `registration` held: its watch and its counts. */
  const release = (registration: Registration): void => {
    registration.unwatch();
    count(registration, -1);
  };

  const startForwarder = (entry: Held, key: string): void => {
    // Every relay worker's options (the place for the flows it consumes).
    const workerOptions: WorkerOptions = {
      ...(options.consumes ? { consumes: options.consumes } : {}),
      onStop: () => {
        if (held.get(key) !== entry) return;
        held.delete(key);
        if (entry.offline) clearTimeout(entry.offline);
        else release(entry.registration);
        log.info("relay removed", { relay: key });
      },
    };
    node.startWorker(entry.address, async (ctx) => {
      // Linear in the frame: one pass over its onward route plus the (bounded) forward route.
      try {
        if (entry.offline || entry.draining) return parking!.park(entry, ctx);
        const forwardRoute = entry.registration.forwardRoute;
        const onward = ctx.message.onwardRoute.popFront().prepend(forwardRoute);
        const next = ctx.message.with({ onwardRoute: onward });
        // A relay registered from this node has nothing in front: the rest is the sender's
        // own route, so it stays on the sender's flow (no way around flow control).
        if (forwardRoute.isEmpty) {
          await node.deliver(next, { from: entry.address, flow: ctx.flow });
          return;
        }
        // As Ockam's Relay: the two links it joins may answer each other directly.
        joinLinks(node, next.returnRoute.next, onward.next);
        await ctx.forward(next);
      } catch (error) {
        log.debug("relay: message not forwarded", { relay: key, error });
      }
    }, workerOptions);
  };

  /**
   * Checks and claims `key` for `request` in one synchronous step: no other request can
   * run between the check and the claim. Returns the relay, or why it is refused.
   */
  const claim = (
    key: string,
    relayAddress: Address,
    request: RoutedMessage,
    identity: string | undefined,
  ): Held | Refusal => {
    const returnRoute = request.returnRoute;
    const watched = returnRoute.next!;
    const hop = watched.toString();
    if (returnRoute.length - 1 > maxForwardRouteLength) {
      return limit(
        `a return route of ${returnRoute.length} hops is longer than ${maxForwardRouteLength + 1}`,
      );
    }
    // Drop the requester's worker: the forward route leads to the requester's node.
    const forwardRoute = returnRoute.popBack();
    const registration: Registration = {
      identity,
      since: Date.now(),
      hop,
      forwardRoute,
      replyRoute: returnRoute,
      unwatch: () => {},
    };
    const current = held.get(key);
    if (current) {
      if (identity === undefined || current.registration.identity !== identity) {
        return { code: "relay-refused", text: `'${quote(key)}' is held by another identity` };
      }
      if (current.registration.hop !== hop && (perHop.get(hop) ?? 0) >= maxPerConnection) {
        return limit(`this connection holds ${maxPerConnection} relays already`);
      }
      const previous = current.registration;
      const back = current.offline !== undefined;
      if (back) {
        clearTimeout(current.offline);
        current.offline = undefined;
      } else {
        release(previous);
      }
      adopt(current, registration, watched);
      log.info("relay taken over by the same identity", { relay: key, identity });
      if (back) {
        void parking!.drain(current);
        return current;
      }
      // The previous holder learns it was replaced (instead of idling as a zombie); a
      // renewal over the same connection is no replacement.
      if (previous.hop !== hop) {
        const note = `${RELAY_REFUSAL_PREFIX}replaced: '${quote(key)}' was taken over by the ` +
          `same identity over another connection`;
        void node.send(previous.replyRoute, encodeBareString(note), { from: relayAddress })
          .catch(() => {});
      }
      return current;
    }
    if (node.hasWorker(relayAddress)) {
      return { code: "relay-refused", text: `'${quote(key)}' is in use by another worker` };
    }
    if (held.size >= maxRelays) return limit(`the service holds ${maxRelays} relays already`);
    if ((perHop.get(hop) ?? 0) >= maxPerConnection) {
      return limit(`this connection holds ${maxPerConnection} relays already`);
    }
    if (identity !== undefined && (perIdentity.get(identity) ?? 0) >= maxPerIdentity) {
      return limit(`this identity holds ${maxPerIdentity} relays already`);
    }
    const entry: Held = { address: relayAddress, registration };
    startForwarder(entry, key);
    held.set(key, entry);
    adopt(entry, registration, watched);
    return entry;
  };

  const handler = async (ctx: { message: RoutedMessage; address: Address }): Promise<void> => {
    const request = ctx.message;
    // A BARE String is a varint length (at most 10 bytes) and the bytes: refuse long names
    // before decoding them.
    if (request.payload.length > maxNameBytes + 10) {
      if (request.returnRoute.isEmpty) return;
      return refuse(request, ctx.address, limit(`a name is at most ${maxNameBytes} bytes`));
    }
    let body: string;
    try {
      body = decodeBareString(request.payload);
    } catch (error) {
      log.warn("relay service: request is not a BARE String, dropping", { error });
      return;
    }
    if (request.returnRoute.isEmpty) {
      log.warn("relay service: request without a return route, dropping");
      return;
    }
    if (body !== RELAY_REGISTER && encoder.encode(body).length > maxNameBytes) {
      return refuse(request, ctx.address, limit(`a name is at most ${maxNameBytes} bytes`));
    }
    const name = body === RELAY_REGISTER ? Address.random().valueText : body;
    const relayAddress = Address.local(prefix + name);
    const key = relayAddress.valueText;
    const rawIdentity = request.localInfo[LOCAL_INFO_IDENTIFIER];
    const identity = typeof rawIdentity === "string" ? rawIdentity : undefined;
    if (options.arbiter) {
      let refused: string | undefined;
      try {
        refused = await options.arbiter.claim(key, identity);
      } catch (error) {
        log.warn("relay service: the arbiter failed", { relay: key, error });
        refused = "the fleet registry is not answering";
      }
      if (refused !== undefined) {
        return refuse(request, ctx.address, { code: "relay-refused", text: refused });
      }
    }
    let claimed: Held | Refusal;
    try {
      claimed = claim(key, relayAddress, request, identity);
    } catch (error) {
      // Only a closing node makes starting the relay worker fail.
      log.warn("relay service: relay not started", { relay: key, error });
      return;
    }
    if (!("address" in claimed)) return refuse(request, ctx.address, claimed);
    const registration = claimed.registration;
    log.info("relay registered", {
      relay: key,
      forwardRoute: quote(registration.forwardRoute.toString()),
      identity,
    });
    try {
      await node.send(request.returnRoute, encodeBareString(key), { from: relayAddress });
    } catch (error) {
      // Remove the relay unless a newer registration (a takeover) replaced this one.
      if (held.get(key) === claimed && claimed.registration === registration) {
        log.warn("relay: registration reply not delivered, removing relay", { relay: key, error });
        void node.stopWorker(relayAddress);
      }
    }
  };

  const hold = (key: string, identity: string): void => {
    if (!parking || held.has(key) || node.hasWorker(key)) return;
    const entry: Held = {
      address: Address.local(key),
      registration: {
        identity,
        since: Date.now(),
        hop: "",
        forwardRoute: Route.EMPTY,
        replyRoute: Route.EMPTY,
        unwatch: () => {},
      },
    };
    startForwarder(entry, key);
    held.set(key, entry);
    parking.hold(entry);
  };
  // Names with frames queued in a persistent store are held again for their identities.
  for (const waiting of queue?.names() ?? []) hold(waiting.name, waiting.identity);

  const started: Address[] = [];
  // The service's and its aliases' options (the place for the flows they consume).
  const serviceOptions: WorkerOptions = {
    ...(options.incoming ? { incoming: options.incoming } : {}),
    ...(options.consumes ? { consumes: options.consumes } : {}),
  };
  try {
    for (const address of [serviceAddress, ...aliases]) {
      started.push(node.startWorker(address, handler, serviceOptions));
    }
  } catch (error) {
    for (const address of started) void node.stopWorker(address);
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all(started.map((a) => node.stopWorker(a)));
      await Promise.all([...held.values()].map((entry) => node.stopWorker(entry.address)));
    })();
    return closing;
  };
  return {
    address: serviceAddress,
    relays: () => [...held.keys()],
    registrations: () =>
      [...held.entries()].map(([relay, entry]) => ({
        relay,
        name: relay.startsWith(prefix) ? relay.slice(prefix.length) : relay,
        identity: entry.registration.identity,
        since: entry.registration.since,
        online: entry.offline === undefined,
        queued: queue?.size(relay) ?? 0,
      })),
    hold,
    release: async (key) => {
      const entry = held.get(key);
      if (entry) await node.stopWorker(entry.address);
      queue?.release(key);
    },
    drain: (key) => {
      const entry = held.get(key);
      if (!entry || entry.offline || entry.draining || !parking) return;
      if ((queue?.size(key) ?? 0) > 0) void parking.drain(entry);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function bound(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function bump(counts: Map<string, number>, key: string, delta: 1 | -1): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function limit(text: string): Refusal {
  return { code: "relay-limit", text };
}
