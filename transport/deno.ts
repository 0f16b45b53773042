/**
 * Deno adapter: TCP via `Deno.connect`/`Deno.listen` (Ockam's TCP protocol) and a
 * WebSocket server handler for `Deno.serve`.
 *
 * @example Two nodes over TCP loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { listenTcp, useTcpTransport } from "@sealroute/sealroute/transport/deno";
 *
 * await using server = new Node();
 * await using client = new Node();
 * useTcpTransport(client);
 * await using listener = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
 * // Messages from the listener's connections reach only the workers that consume its flow.
 * startEcho(server, { consumes: [listener.flow] });
 * const reply = await client.request(`1#127.0.0.1:${listener.port} => echo`, new Uint8Array([7]), { timeout: 2000 });
 * assert(reply.payload[0] === 7);
 * ```
 *
 * @module
 */
export {
  connectTcp,
  DEFAULT_MAX_CONNECTIONS,
  listenTcp,
  type ListenTcpOptions,
  reconnectTcp,
  tcpDuplex,
  type TcpListener,
  type TcpOptions,
  useTcpTransport,
} from "./_deno_tcp.ts";
export {
  serveWebSocket,
  type ServeWebSocketOptions,
  type WebSocketHandler,
  webSocketHandler,
  type WebSocketHandlerOptions,
  type WebSocketServer,
} from "./_deno_websocket.ts";
