// OCKAM_WIRE §7: the relay (forwarding) service and its client.
import { DecodeError, RouteError, SealrouteError } from "../errors.ts";
import { Address } from "./address.ts";
import { decodeBareString, encodeBareString } from "./bare.ts";
import type { Node } from "./node.ts";
import type { AccessHook } from "./node_options.ts";
import { Route, type RouteLike } from "./route.ts";
import { LOCAL_INFO_IDENTIFIER, type LocalInfo, type RoutedMessage } from "./routed_message.ts";

/** Address of the relay service in Ockam nodes. */
export const RELAY_SERVICE_ADDRESS = "forwarding_service";
/** Alias of the relay service used by static-relay clients. */
export const STATIC_RELAY_SERVICE_ADDRESS = "static_forwarding_service";
/** Prefix Ockam nodes put before a relay name to form the relay worker address. */
export const RELAY_PREFIX = "forward_to_";
/** Request body asking for a relay with a random name. */
export const RELAY_REGISTER = "register";
/**
 * Start of the BARE String reply with which the service refuses a request. Ockam sends no
 * refusal at all (its client would time out); ours is `error:<code>: <explanation>`.
 */
export const RELAY_REFUSAL_PREFIX = "error:";

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
}

/** A running relay service; see {@linkcode startRelayService}. */
export interface RelayService {
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The service address. */
  readonly address: Address;
  /** Addresses of the relays currently registered (e.g. `forward_to_default`). */
  relays(): string[];
  /** Stops the service, its aliases and every relay. */
  close(): Promise<void>;
}

interface Held {
  identity: string | undefined;
  unwatch: () => void;
}

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
 *
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
  const held = new Map<string, Held>();
  const log = node.logger;

  const refuse = async (request: RoutedMessage, from: Address, text: string): Promise<void> => {
    log.warn("relay service refused a request", {
      reason: text,
      returnRoute: request.returnRoute.toString(),
    });
    try {
      await node.send(
        request.returnRoute,
        encodeBareString(`${RELAY_REFUSAL_PREFIX}relay-refused: ${text}`),
        { from },
      );
    } catch (error) {
      log.debug("relay service: refusal not delivered", { error });
    }
  };

  const startRelay = async (
    relayAddress: Address,
    request: RoutedMessage,
    identity: string | undefined,
  ) => {
    const returnRoute = request.returnRoute;
    const watched = returnRoute.next!;
    // Drop the requester's worker: the forward route leads to the requester's node.
    const forwardRoute = returnRoute.popBack();
    const key = relayAddress.valueText;
    node.startWorker(relayAddress, async (ctx) => {
      const onward = ctx.message.onwardRoute.popFront().prepend(forwardRoute);
      try {
        await ctx.forward(ctx.message.with({ onwardRoute: onward }));
      } catch (error) {
        log.debug("relay: message not forwarded", { relay: key, error });
      }
    }, {
      onStop: () => {
        const entry = held.get(key);
        entry?.unwatch();
        held.delete(key);
        log.info("relay removed", { relay: key });
      },
    });
    held.set(key, {
      identity,
      unwatch: node.onWorkerStopped(watched, () => {
        void node.stopWorker(relayAddress);
      }),
    });
    log.info("relay registered", { relay: key, forwardRoute: forwardRoute.toString(), identity });
    try {
      await node.send(returnRoute, encodeBareString(key), { from: relayAddress });
    } catch (error) {
      log.warn("relay: registration reply not delivered, removing relay", { relay: key, error });
      await node.stopWorker(relayAddress);
    }
  };

  const handler = async (ctx: { message: RoutedMessage; address: Address }): Promise<void> => {
    const request = ctx.message;
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
    const name = body === RELAY_REGISTER ? Address.random().valueText : body;
    const relayAddress = Address.local(prefix + name);
    const key = relayAddress.valueText;
    const rawIdentity = request.localInfo[LOCAL_INFO_IDENTIFIER];
    const identity = typeof rawIdentity === "string" ? rawIdentity : undefined;
    const current = held.get(key);
    if (current) {
      if (identity === undefined || current.identity !== identity) {
        return refuse(request, ctx.address, `'${key}' is held by another identity`);
      }
      log.info("relay taken over by the same identity", { relay: key, identity });
      await node.stopWorker(relayAddress);
    } else if (node.hasWorker(relayAddress)) {
      return refuse(request, ctx.address, `'${key}' is in use by another worker`);
    }
    await startRelay(relayAddress, request, identity);
  };

  const started: Address[] = [];
  try {
    for (const address of [serviceAddress, ...aliases]) {
      started.push(
        node.startWorker(address, handler, options.incoming ? { incoming: options.incoming } : {}),
      );
    }
  } catch (error) {
    for (const address of started) void node.stopWorker(address);
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all(started.map((a) => node.stopWorker(a)));
      await Promise.all([...held.keys()].map((k) => node.stopWorker(Address.local(k))));
    })();
    return closing;
  };
  return {
    address: serviceAddress,
    relays: () => [...held.keys()],
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options for {@linkcode createRelay}. */
export interface CreateRelayOptions {
  /** Service address appended to the route. Default {@linkcode RELAY_SERVICE_ADDRESS}. */
  service?: string;
  /** Milliseconds to wait for the service's reply. Default 30 000. */
  timeout?: number;
  /** Cancels the registration. */
  signal?: AbortSignal;
  /** Local info for the request's first local hop. */
  localInfo?: LocalInfo;
}

/** A relay registered by {@linkcode createRelay}. */
export interface Relay {
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The relay worker's address on the relay node, e.g. `forward_to_default`. */
  readonly address: Address;
  /** Route from this node to the relay (the reply's return route). */
  readonly route: Route;
  /**
   * Stops the local client worker. The relay itself stays until the connection to the
   * relay node goes away (Ockam has no unregister message).
   */
  close(): Promise<void>;
}

/**
 * Registers a relay at the relay service reachable through `route`.
 *
 * `name` is the static name wanted (the service adds its prefix), or `undefined` for a
 * random one. Rejects with `RouteError` code `relay-refused` when the service refuses
 * (name held by another identity), `timeout`, `aborted`, or the transport's error.
 * Messages sent to `[...route-to-relay-node, relay.address, ...rest]` arrive at this node
 * with onward route `rest`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRelay, Node, startRelayService } from "@sealroute/sealroute/routing";
 * import { RouteError } from "@sealroute/sealroute/errors";
 *
 * await using node = new Node();
 * await using _service = startRelayService(node);
 * await using _first = await createRelay(node, [], "x", { timeout: 1000, localInfo: { "sealroute.identifier": "Ialice" } });
 * const err = await createRelay(node, [], "x", { timeout: 1000, localInfo: { "sealroute.identifier": "Imallory" } })
 *   .catch((e) => e);
 * assert(err instanceof RouteError && err.code === "relay-refused");
 * ```
 */
export function createRelay(
  node: Node,
  route: RouteLike,
  name: string | undefined,
  options: CreateRelayOptions = {},
): Promise<Relay> {
  const { timeout = 30_000, signal, localInfo } = options;
  const serviceRoute = Route.from(route).append(
    Address.local(options.service ?? RELAY_SERVICE_ADDRESS),
  );
  if (signal?.aborted) {
    return Promise.reject(
      new RouteError("aborted", "relay registration aborted", { cause: signal.reason }),
    );
  }
  return new Promise<Relay>((resolve, reject) => {
    let done = false;
    let unwatch: (() => void) | undefined;
    const self = Address.random();
    const onAbort = () =>
      fail(new RouteError("aborted", "relay registration aborted", { cause: signal?.reason }));
    const timer = setTimeout(
      () =>
        fail(
          new RouteError(
            "timeout",
            `no reply from the relay service at ${serviceRoute} within ${timeout} ms`,
          ),
        ),
      timeout,
    );
    const settle = (): void => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      unwatch?.();
    };
    const fail = (error: Error): void => {
      if (done) return;
      settle();
      void node.stopWorker(self);
      reject(error);
    };
    const close = async (): Promise<void> => {
      await node.stopWorker(self);
    };
    const onReply = (message: RoutedMessage): void => {
      let text: string;
      try {
        text = decodeBareString(message.payload);
      } catch (error) {
        return fail(
          new DecodeError(
            "bad-relay-reply",
            `expected a BARE String from the relay service: ${error}`,
          ),
        );
      }
      if (text.startsWith(RELAY_REFUSAL_PREFIX)) {
        return fail(new RouteError("relay-refused", `the relay service refused: ${text}`));
      }
      if (name !== undefined && !text.endsWith(name)) {
        return fail(
          new RouteError("relay-refused", `expected a relay named '...${name}', got '${text}'`),
        );
      }
      const relayAddress = message.returnRoute.last;
      if (!relayAddress) {
        return fail(new RouteError("bad-relay-reply", "relay reply without return route"));
      }
      settle();
      resolve({
        address: relayAddress,
        route: message.returnRoute,
        close,
        [Symbol.asyncDispose]: close,
      });
    };
    node.startWorker(self, async (ctx) => {
      const onward = ctx.message.onwardRoute.popFront();
      if (onward.isEmpty) {
        if (!done) onReply(ctx.message);
        return;
      }
      // Ockam's RemoteRelay passes on anything with hops left.
      try {
        await ctx.forward(ctx.message.with({ onwardRoute: onward }));
      } catch (error) {
        node.logger.debug("relay client: message not forwarded", { error });
      }
    }, { onStop: (reason) => fail(reason ?? new RouteError("stopped", "relay client stopped")) });
    signal?.addEventListener("abort", onAbort, { once: true });
    const register = async (): Promise<void> => {
      // Resolve a transport hop here so the connection carrying the request can be watched.
      let resolved = serviceRoute;
      const first = serviceRoute.next!;
      const transport = first.isLocal ? undefined : node.transport(first.type);
      if (transport) resolved = serviceRoute.popFront().prepend(await transport.resolve(first));
      await node.send(resolved, encodeBareString(name ?? RELAY_REGISTER), {
        from: self,
        ...(localInfo ? { localInfo } : {}),
      });
      if (done) return;
      // Fail early if the connection carrying the request goes away.
      unwatch = node.onWorkerStopped(resolved.next!, (reason) => {
        if (reason) {
          fail(
            reason instanceof SealrouteError ? reason : new RouteError("stopped", reason.message),
          );
        }
      });
    };
    register().catch((error: Error) => fail(error));
  });
}
