/**
 * Moving routed messages between nodes, runtime-free: the {@linkcode Duplex} seam,
 * length-prefixed framing as Web Streams, Ockam's TCP protocol over any duplex
 * ({@linkcode attachDuplex}), and the WebSocket transport using the standard `WebSocket`
 * ({@linkcode connectWebSocket}). Deno's TCP and `Deno.serve` glue is in
 * `@sealroute/sealroute/transport/deno`.
 *
 * @example Two nodes over an in-memory duplex
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { attachDuplex, memoryDuplexPair } from "@sealroute/sealroute/transport";
 *
 * await using alice = new Node();
 * await using bob = new Node();
 * const [a, b] = memoryDuplexPair();
 * const toBob = attachDuplex(alice, a);
 * const fromAlice = attachDuplex(bob, b);
 * // What arrives over a link reaches only the workers that consume its flow.
 * startEcho(bob, { consumes: [fromAlice.flow] });
 * const reply = await alice.request(toBob.route.append("echo"), new TextEncoder().encode("hi"), { timeout: 1000 });
 * assert(new TextDecoder().decode(reply.payload) === "hi");
 * ```
 *
 * @module
 */
export { type Duplex, memoryDuplexPair } from "./duplex.ts";
export {
  DEFAULT_FIRST_BYTE_TIMEOUT,
  DEFAULT_FRAME_TIMEOUT,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrames,
  FrameDecoder,
  FrameDecoderStream,
  FrameEncoderStream,
  type FramingOptions,
  type ReadTimeoutOptions,
} from "./framing.ts";
export {
  attachDuplex,
  type AttachOptions,
  type Connection,
  type ConnectionLimits,
  DEFAULT_MAX_WRITE_BUFFER,
  DEFAULT_WRITE_TIMEOUT,
  TCP_PROTOCOL_VERSION,
} from "./connection.ts";
export { linkFlow, type LinkFlowOptions } from "./link_flow.ts";
export {
  DEFAULT_DEAD_AFTER,
  DEFAULT_HEARTBEAT_INTERVAL,
  Liveness,
  type LivenessOptions,
} from "./liveness.ts";
export {
  type Dial,
  dialAny,
  type LinkEvent,
  type ReconnectingLink,
  reconnectingLink,
  type ReconnectOptions,
} from "./reconnecting_link.ts";
export {
  type FaultDuplex,
  faultDuplex,
  type FaultDuplexOptions,
  type FaultKind,
  type ScheduledFault,
  seededRandom,
} from "./fault_duplex.ts";
export {
  attachWebSocket,
  connectWebSocket,
  reconnectWebSocket,
  useWebSocketTransport,
  type WebSocketOptions,
  type WebSocketTransport,
} from "./websocket.ts";
