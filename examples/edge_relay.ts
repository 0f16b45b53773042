/**
 * A relay node as a `Deno.serve` handler module: a ready Deno Deploy entry (or any host that
 * runs `deno serve`). Devices and clients connect over WebSocket; a device registers a relay
 * with the relay service (`forwarding_service`, OCKAM_WIRE §7), and clients reach it at
 * `[their connection, forward_to_<name>, ...]`, normally to open an end-to-end secure
 * channel to the device: the relay forwards ciphertext only.
 *
 * ```sh
 * npx -y deno@2.9.6 serve --allow-net --port 8000 examples/edge_relay.ts
 * # a device: connectWebSocket(node, "ws://host:8000"), then createRelay(node, link.route, "sensor")
 * # a client: createSecureChannel(node, link.route.append("forward_to_sensor").append("api"), ...)
 * ```
 *
 * `GET /` without an upgrade answers `{"status":"ok"}` (a health check that names no device:
 * the names registered are the devices' addresses, so they are not listed to anyone);
 * WebSocket upgrades on any path become connections of the relay node.
 *
 * Limits:
 * - Relays live in one isolate's memory. A device's relay exists only in the instance that
 *   holds its WebSocket, so a client routed to another instance does not find it. On Deno
 *   Deploy this entry therefore serves as a single instance (one region, one isolate);
 *   sharing relays across instances needs an external engine (a shared registry and a
 *   message bus between instances), a later step.
 * - Registration is not authenticated here: names are first come, first served, and a
 *   name is freed when its device's connection drops. The relay service's default bounds
 *   apply (relays per connection and in all, name length; see `RelayServiceOptions`).
 *   `examples/relay.ts` binds names to the identity that registered them through a secure
 *   channel; devices and clients should in any case trust only each other's identities,
 *   never the relay.
 * - No idle heartbeat: a host that closes idle WebSockets closes the device's relay with it;
 *   devices should reconnect and register again.
 *
 * @module
 */
import { type Logger, Node, type RelayService, startRelayService } from "../routing/mod.ts";
import { webSocketHandler } from "../transport/deno.ts";

/** Options of {@linkcode createEdgeRelay}. */
export interface EdgeRelayOptions {
  /** The relay node's logger. Default: silent. */
  logger?: Logger;
}

/** A relay node and the HTTP handler that feeds it WebSocket connections. */
export interface EdgeRelay {
  /** The relay node. */
  readonly node: Node;
  /** The relay service running on it. */
  readonly service: RelayService;
  /** The `Deno.serve` handler: WebSocket upgrades become connections; `GET /` is a health check. */
  fetch(request: Request): Response;
  /** Stops the service and the node, closing every connection. */
  close(): Promise<void>;
}

/**
 * Creates a relay node with the relay service and a handler for `Deno.serve`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createEdgeRelay } from "./edge_relay.ts";
 *
 * const relay = createEdgeRelay();
 * const response = relay.fetch(new Request("http://localhost/"));
 * assert.deepEqual(await response.json(), { status: "ok" });
 * await relay.close();
 * ```
 */
export function createEdgeRelay(options: EdgeRelayOptions = {}): EdgeRelay {
  const node = new Node(options.logger ? { logger: options.logger } : {});
  const upgrade = webSocketHandler(node);
  const service = startRelayService(node, { consumes: [upgrade.flow] });
  return {
    node,
    service,
    fetch(request: Request): Response {
      if (request.headers.get("upgrade")?.toLowerCase() === "websocket") return upgrade(request);
      if (request.method === "GET" && new URL(request.url).pathname === "/") {
        return Response.json({ status: "ok" });
      }
      return new Response("expected a WebSocket upgrade or GET /", { status: 426 });
    },
    async close(): Promise<void> {
      await service.close();
      await node.close();
    },
  };
}

let relay: EdgeRelay | undefined;

/** The entry `deno serve` (and Deno Deploy) calls: one relay node per isolate, made on first use. */
export default {
  fetch(request: Request): Response {
    relay ??= createEdgeRelay();
    return relay.fetch(request);
  },
} satisfies Deno.ServeDefaultExport;
