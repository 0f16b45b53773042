// The WebSocket server half of the Deno adapter: a handler for `Deno.serve` and a supervised
// server around it.
import type { Flow, Node } from "../routing/mod.ts";
import { Pause } from "../_pause.ts";
import type { Connection } from "./connection.ts";
import { attachWebSocket, type WebSocketOptions } from "./websocket.ts";
import {
  ACCEPT_BACKOFF_MAX,
  ACCEPT_BACKOFF_MIN,
  DEFAULT_MAX_CONNECTIONS,
  type TcpListener,
} from "./_deno_tcp.ts";

/** Options for {@linkcode webSocketHandler}. */
export interface WebSocketHandlerOptions extends Omit<WebSocketOptions, "spawner"> {
  /** Called with each accepted connection. */
  onConnection?: (connection: Connection) => void;
  /**
   * WebSocket connections open at once through this handler; an upgrade request past it
   * gets 503 without an upgrade, with a warning logged. Default
   * {@linkcode DEFAULT_MAX_CONNECTIONS} (4096).
   */
  maxConnections?: number;
}

/**
 * A `Deno.serve` handler with the flow its connections' flows are spawned from (as a TCP
 * listener's `flow`).
 */
export interface WebSocketHandler {
  /** Handles one request. */
  (req: Request): Response;
  /** The spawner flow of every connection this handler accepts. */
  readonly flow: Flow;
}

/**
 * A `Deno.serve` handler that upgrades requests to WebSockets and attaches each to `node`
 * (BARE `TransportMessage`s, OCKAM_WIRE §2.2). Requests without an upgrade get 426.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { connectWebSocket } from "@sealroute/sealroute/transport";
 * import { webSocketHandler } from "@sealroute/sealroute/transport/deno";
 *
 * await using server = new Node();
 * const handler = webSocketHandler(server);
 * startEcho(server, { consumes: [handler.flow] });
 * const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
 * {
 *   await using client = new Node();
 *   const link = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
 *   const reply = await client.request(link.route.append("echo"), new Uint8Array([5]), { timeout: 2000 });
 *   assert(reply.payload[0] === 5);
 * }
 * await server.close();
 * await http.shutdown();
 * ```
 */
export function webSocketHandler(
  node: Node,
  options: WebSocketHandlerOptions = {},
): WebSocketHandler {
  const { onConnection, maxConnections = DEFAULT_MAX_CONNECTIONS, ...rest } = options;
  const flow = node.flowControls.createFlow({
    label: "websocket listener",
    allowRemoteDial: options.allowRemoteDial ?? false,
  });
  const wsOptions: WebSocketOptions = { ...rest, spawner: flow };
  let open = 0;
  // Never throws: a throw would reach Deno.serve's onError (and a bad request is the peer's).
  const handle = (req: Request): Response => {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    if (open >= maxConnections) {
      node.logger.warn("connection refused: the listener is at its connection limit", {
        maxConnections,
      });
      return new Response("too many connections", { status: 503 });
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req);
    } catch (error) {
      node.logger.warn("WebSocket upgrade refused", { error });
      return new Response("bad WebSocket upgrade", { status: 400 });
    }
    let connection: Connection;
    try {
      connection = attachWebSocket(node, upgraded.socket, wsOptions);
    } catch (error) {
      node.logger.warn("connection refused", { error });
      return new Response("unavailable", { status: 503 });
    }
    open++;
    void connection.closed.then(() => open--);
    try {
      onConnection?.(connection);
    } catch (error) {
      node.logger.error("onConnection callback failed", { error });
    }
    return upgraded.response;
  };
  return Object.assign(handle, { flow });
}

/** Options for {@linkcode serveWebSocket}: where to listen, and the handler's options. */
export interface ServeWebSocketOptions extends WebSocketHandlerOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port; 0 picks a free one (kept across restarts). Default 0. */
  port?: number;
}

/**
 * A supervised WebSocket server attached to a node; see {@linkcode serveWebSocket}. Its
 * `flow` is the spawner flow of every connection it accepts, as for a TCP listener.
 */
export interface WebSocketServer extends TcpListener {
  /** How many times the server was started again after `Deno.serve` failed. */
  readonly restarts: number;
  /** Stops serving and closes the accepted connections. */
  close(): Promise<void>;
}

/**
 * Serves {@linkcode webSocketHandler} with `Deno.serve`, supervised. `Deno.serve` ends for
 * good when an accept fails (out of file descriptors: EMFILE/ENFILE), and rejects its
 * `finished` promise, which unobserved ends the process; here the failure is logged and the
 * server started again on the same port after a backoff (10 ms doubling to 1 s), so
 * connections are refused for a moment rather than forever. Closes with the node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { connectWebSocket } from "@sealroute/sealroute/transport";
 * import { serveWebSocket } from "@sealroute/sealroute/transport/deno";
 *
 * await using server = new Node();
 * await using ws = serveWebSocket(server);
 * startEcho(server, { consumes: [ws.flow] });
 * await using client = new Node();
 * const link = await connectWebSocket(client, `ws://127.0.0.1:${ws.port}`);
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([9]), { timeout: 2000 });
 * assert(reply.payload[0] === 9 && ws.connections.size === 1);
 * ```
 */
export function serveWebSocket(node: Node, options: ServeWebSocketOptions = {}): WebSocketServer {
  const { hostname = "127.0.0.1", port = 0, onConnection, ...handlerOptions } = options;
  const connections = new Set<Connection>();
  const handler = webSocketHandler(node, {
    ...handlerOptions,
    onConnection: (connection) => {
      connections.add(connection);
      void connection.closed.then(() => connections.delete(connection));
      onConnection?.(connection);
    },
  });
  let closing: Promise<void> | undefined;
  let restarts = 0;
  const pause = new Pause();
  const start = (at: number): Deno.HttpServer<Deno.NetAddr> =>
    Deno.serve({
      hostname,
      port: at,
      onListen() {},
      onError(error) {
        node.logger.error("WebSocket handler failed", { error });
        return new Response("internal error", { status: 500 });
      },
    }, handler);
  let server = start(port);
  const addr = server.addr;
  const supervise = (s: Deno.HttpServer<Deno.NetAddr>): void => {
    s.finished.then(() => {}, async (error) => {
      if (closing) return;
      let delay = ACCEPT_BACKOFF_MIN;
      node.logger.warn("WebSocket server failed, restarting", { error, retryInMs: delay });
      while (!closing) {
        await pause.sleep(delay);
        if (closing) return;
        try {
          server = start(addr.port);
          restarts++;
          node.logger.info("WebSocket server restarted", { port: addr.port });
          supervise(server);
          return;
        } catch (error) {
          delay = Math.min(ACCEPT_BACKOFF_MAX, delay * 2);
          node.logger.warn("WebSocket server restart failed, retrying", {
            error,
            retryInMs: delay,
          });
        }
      }
    });
  };
  supervise(server);
  const close = (): Promise<void> => {
    closing ??= (async () => {
      pause.wake();
      unhook();
      await Promise.all([...connections].map((c) => c.close()));
      try {
        await server.shutdown();
      } catch {
        // already shut down or failed
      }
    })();
    return closing;
  };
  const unhook = node.onClose(close);
  node.logger.info("WebSocket server started", { hostname: addr.hostname, port: addr.port });
  return {
    addr,
    port: addr.port,
    flow: handler.flow,
    connections,
    get restarts(): number {
      return restarts;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
