/**
 * Node adapter (Node 20+, Bun, and Deno through its `node:net`): TCP via `node:net`,
 * Ockam's TCP protocol with the same framing, bounds and options as the Deno adapter's
 * (`@sealroute/sealroute/transport/deno`), so code switches adapters by its import. One
 * difference: `listenTcp` resolves once bound, so write `await listenTcp(...)` (which the
 * Deno adapter accepts too).
 *
 * @example Two nodes over TCP loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { listenTcp, useTcpTransport } from "@sealroute/sealroute/transport/node";
 *
 * await using server = new Node();
 * await using client = new Node();
 * useTcpTransport(client);
 * await using listener = await listenTcp(server, { hostname: "127.0.0.1", port: 0 });
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
  type NetAddr,
  reconnectTcp,
  type TcpListener,
  type TcpOptions,
  useTcpTransport,
} from "./_node_tcp.ts";
export { socketDuplex } from "./_node_socket_duplex.ts";
