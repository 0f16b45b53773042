/**
 * Addresses, routes, routed messages, their wire codecs, and the {@linkcode Node} that
 * delivers messages to workers — Ockam's routing model, with no crypto and no sockets.
 *
 * - {@linkcode Address} / {@linkcode Route}: `1#127.0.0.1:4000 => echo`.
 * - {@linkcode RoutedMessage}: onward route, return route, payload, and `localInfo`
 *   (never on the wire; secure channels put the peer's identifier under
 *   {@linkcode LOCAL_INFO_IDENTIFIER}).
 * - Codecs: {@linkcode encodeTcpMessage} / {@linkcode decodeTcpMessage} (CBOR, TCP) and
 *   {@linkcode encodeTransportMessage} / {@linkcode decodeTransportMessage} (BARE, WebSocket).
 * - {@linkcode Node}: workers with mailboxes bounded in count and bytes, access-control hooks,
 *   flow control ({@linkcode FlowControls}: what arrives over a connection or a channel
 *   reaches only the workers that consume its flow), `send`,
 *   `deliver` (with backpressure), `request`, transport registration, connection-closed
 *   notifications ({@linkcode Node.onWorkerStopped}), graceful `close()`.
 * - Services: {@linkcode startEcho}, the relay service {@linkcode startRelayService} and
 *   its client {@linkcode createRelay}.
 *
 * @example Request/reply through a relay
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRelay, Node, startEcho, startRelayService } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * startEcho(node);
 * await using _relays = startRelayService(node);
 * await using relay = await createRelay(node, [], undefined, { timeout: 1000 });
 * const reply = await node.request(relay.route.append("echo"), new TextEncoder().encode("ping"));
 * assert(new TextDecoder().decode(reply.payload) === "ping");
 * ```
 *
 * @module
 */
export { Address, type AddressLike, LOCAL, TCP, UDP, WS } from "./address.ts";
export {
  DEFAULT_MAX_ADDRESS_LENGTH,
  DEFAULT_MAX_ROUTE_LENGTH,
  Route,
  type RouteLike,
  type RouteLimits,
} from "./route.ts";
export {
  LOCAL_INFO_IDENTIFIER,
  type LocalInfo,
  RoutedMessage,
  type RoutedMessageInit,
} from "./routed_message.ts";
export { decodeBareString, decodeVarint, encodeBareString, encodeVarint } from "./bare.ts";
export { decodeTcpMessage, encodeTcpMessage, type EncodeTcpOptions } from "./tcp_codec.ts";
export { decodeTransportMessage, encodeTransportMessage } from "./transport_message_codec.ts";
export { type Logger, silentLogger } from "./logger.ts";
export { Node, type WorkerContext, type WorkerHandler } from "./node.ts";
export { type CreateFlowOptions, Flow, FlowControls } from "./flow_controls.ts";
export {
  configureUndeliverableNotices,
  decodeUndeliverableNotice,
  DEFAULT_NOTICE_RATE,
  encodeUndeliverableNotice,
  MAX_NOTICE_ADDRESS_BYTES,
  MAX_NOTICE_BYTES,
  MAX_NOTICE_WAITING_HOPS,
  type NoticeContext,
  type NoticeFields,
  type NoticeNode,
  noticeRefusal,
  UNDELIVERABLE_ADDRESS,
  type UndeliverableEvent,
  type UndeliverableListener,
  type UndeliverableNotice,
  type UndeliverableOptions,
} from "./undeliverable.ts";
export {
  type AccessHook,
  DEFAULT_MAILBOX_BYTES,
  DEFAULT_MAILBOX_CAPACITY,
  DEFAULT_REQUEST_TIMEOUT,
  type DeliverOptions,
  type NodeOptions,
  type RequestOptions,
  type SendOptions,
  type StopListener,
  type TransportHandler,
  type WorkerOptions,
} from "./node_options.ts";
export { ECHO_SERVICE, type EchoOptions, startEcho } from "./echo.ts";
export {
  type RelayArbiter,
  type RelayService,
  type RelayServiceOptions,
  startRelayService,
} from "./relay_service.ts";
export { joinLinks } from "./join_links.ts";
export { createRelay, type CreateRelayOptions, type Relay } from "./create_relay.ts";
export {
  RELAY_PREFIX,
  RELAY_REFUSAL_PREFIX,
  RELAY_REGISTER,
  RELAY_SERVICE_ADDRESS,
  STATIC_RELAY_SERVICE_ADDRESS,
} from "./_relay_common.ts";
export {
  MemoryRelayQueueStore,
  type QueuedFrame,
  type QueuedName,
  type QueueRefusal,
  RelayQueue,
  type RelayQueueOptions,
  type RelayQueueStore,
} from "./relay_queue.ts";
