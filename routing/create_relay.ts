// The client side of the relay service: register a name and keep hearing from it.
import { DecodeError, RouteError, SealrouteError } from "../errors.ts";
import { Address } from "./address.ts";
import { decodeBareString, encodeBareString } from "./bare.ts";
import type { Node } from "./node.ts";
import { Route, type RouteLike } from "./route.ts";
import type { LocalInfo, RoutedMessage } from "./routed_message.ts";
import {
  quote,
  RELAY_REFUSAL_PREFIX,
  RELAY_REGISTER,
  RELAY_SERVICE_ADDRESS,
} from "./_relay_common.ts";

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
  /**
   * Called when the service reports that the same identity took the name over through
   * another connection (another process, or this device after a reconnect that outran the
   * relay's notice of the old link): this registration no longer receives anything.
   */
  onReplaced?: (error: RouteError) => void;
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
 * (name held by another identity), `relay-limit` when it refuses for a bound (too many
 * relays, a name too long), `timeout`, `aborted`, or the transport's error.
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
        const code = text.startsWith(`${RELAY_REFUSAL_PREFIX}relay-limit:`)
          ? "relay-limit"
          : "relay-refused";
        return fail(new RouteError(code, `the relay service refused: ${quote(text)}`));
      }
      if (name !== undefined && !text.endsWith(name)) {
        return fail(
          new RouteError(
            "relay-refused",
            `expected a relay named '...${quote(name)}', got '${quote(text)}'`,
          ),
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
        if (!done) return onReply(ctx.message);
        const text = tryDecodeBareString(ctx.message.payload);
        if (text?.startsWith(`${RELAY_REFUSAL_PREFIX}replaced:`)) {
          node.logger.warn("relay client: replaced", { relay: quote(text) });
          options.onReplaced?.(
            new RouteError("replaced", `the relay service says: ${quote(text)}`),
          );
        }
        return;
      }
      // Ockam's RemoteRelay passes on anything with hops left, on the flow of the link it
      // came over (so it reaches only that link's consumers, never an encryptor).
      try {
        await node.deliver(ctx.message.with({ onwardRoute: onward }), {
          from: self,
          flow: ctx.flow,
        });
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
        receiveReplies: true,
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

function tryDecodeBareString(bytes: Uint8Array): string | undefined {
  try {
    return decodeBareString(bytes);
  } catch {
    return undefined;
  }
}
