// OCKAM_WIRE §2.2: WebSocket transport, one BARE TransportMessage per binary frame.
import { RouteError, TransportError } from "../errors.ts";
import {
  Address,
  decodeTransportMessage,
  encodeTransportMessage,
  type Flow,
  type Node,
  Route,
  RoutedMessage,
  WS,
} from "../routing/mod.ts";
import { ConnectionPool } from "./_pool.ts";
import {
  type Connection,
  type ConnectionLimits,
  DEFAULT_WRITE_TIMEOUT,
  withTimeout,
} from "./connection.ts";
import { linkFlow, type LinkFlowOptions } from "./link_flow.ts";
import { Liveness, type LivenessOptions } from "./liveness.ts";
import {
  dialAny,
  type ReconnectingLink,
  reconnectingLink,
  type ReconnectOptions,
} from "./reconnecting_link.ts";
import { DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_FRAME_SIZE } from "./framing.ts";

/** Options for {@linkcode attachWebSocket} and {@linkcode connectWebSocket}. */
export interface WebSocketOptions
  extends LinkFlowOptions, LivenessOptions, Pick<ConnectionLimits, "idleTimeout" | "writeTimeout"> {
  /**
   * Largest message accepted or sent, in bytes; a larger one received closes the connection
   * with `frame-too-large`. The WebSocket API hands over only whole messages, so this is
   * checked once one has arrived (the runtime's own limit bounds what it buffers before).
   * Default 16 MiB.
   */
  maxMessageSize?: number;
  /** A label for log lines (e.g. the URL). */
  peer?: string;
  /**
   * Bytes of received messages that may wait for a full mailbox before the connection is
   * closed with `TransportError` `overloaded` (a WebSocket cannot pause reads). Default 64 MiB.
   */
  maxQueuedBytes?: number;
}

/** Ockam's heartbeat: a message with empty routes and payload. */
const HEARTBEAT = encodeTransportMessage(
  new RoutedMessage({ onwardRoute: [] }),
) as Uint8Array<ArrayBuffer>;
/** Bytes buffered by the socket above which the sender worker waits. */
const HIGH_WATER = 4 << 20;
/** How long close() waits for the closing handshake. */
const CLOSE_WAIT = 2000;

/**
 * Attaches a standard `WebSocket` (open or still connecting) to `node`: each binary
 * message is one BARE `TransportMessage`; messages to the connection's sender worker are
 * sent version 1 with its address popped, messages received get it pushed on their return
 * route and are delivered in order. Heartbeats (empty onward route) are ignored. A text
 * frame, an undecodable or oversized message closes the connection with a `TransportError`.
 *
 * Unlike TCP, a WebSocket cannot pause reads: received messages wait in an in-memory queue
 * while a mailbox is full, up to `maxQueuedBytes`; past that the connection closes with
 * `TransportError` `overloaded` rather than buffer without bound.
 *
 * @example
 * ```ts ignore
 * import { Node } from "@sealroute/sealroute/routing";
 * import { attachWebSocket } from "@sealroute/sealroute/transport";
 *
 * const node = new Node();
 * const link = attachWebSocket(node, new WebSocket("ws://127.0.0.1:8080"));
 * await node.send(link.route.append("echo"), new Uint8Array([1]));
 * ```
 */
export function attachWebSocket(
  node: Node,
  socket: WebSocket,
  options: WebSocketOptions = {},
): Connection {
  return new WebSocketConnection(node, socket, options);
}

/**
 * Opens a WebSocket to `url` (`ws://host:port` or `3#host:port`) with the standard
 * `WebSocket` global and attaches it to `node`; resolves once it is open.
 *
 * @throws {TransportError} code `connect-failed` when the socket does not open.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { connectWebSocket } from "@sealroute/sealroute/transport";
 * import { TransportError } from "@sealroute/sealroute/errors";
 *
 * await using node = new Node();
 * // Nothing listens on port 9 (discard) here: the connection attempt fails with a typed error.
 * const err = await connectWebSocket(node, "ws://127.0.0.1:9").catch((e) => e);
 * assert(err instanceof TransportError && err.code === "connect-failed");
 * ```
 */
export async function connectWebSocket(
  node: Node,
  url: string,
  options: WebSocketOptions = {},
): Promise<Connection> {
  const target = toUrl(url);
  const connection = new WebSocketConnection(node, new WebSocket(target), {
    peer: target,
    ...options,
  });
  await connection.opened;
  useWebSocketTransport(node).add(peerOf(target), connection);
  return connection;
}

/**
 * Opens a WebSocket link to `url` that is dialled again whenever it is lost (see
 * {@linkcode reconnectingLink}); resolves once the first connection is open.
 *
 * @throws {TransportError} code `connect-failed` when the first connection does not open.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { reconnectWebSocket } from "@sealroute/sealroute/transport";
 *
 * await using node = new Node();
 * const err = await reconnectWebSocket(node, "ws://127.0.0.1:9").catch((e) => e);
 * assert.equal(err.code, "connect-failed");
 * ```
 */
export function reconnectWebSocket(
  node: Node,
  url: string | readonly string[],
  options: WebSocketOptions & ReconnectOptions = {},
): Promise<ReconnectingLink> {
  const targets = (typeof url === "string" ? [url] : url).map(toUrl);
  return reconnectingLink(
    node,
    dialAny(targets, async (target, { replyAddress, spawner }) => {
      const connection = new WebSocketConnection(node, new WebSocket(target), {
        peer: target,
        ...options,
        replyAddress,
        spawner,
      });
      await connection.opened;
      return connection;
    }),
    { ...options, peer: targets.join(",") },
  );
}

/** The WebSocket transport of a node, created by {@linkcode useWebSocketTransport}. */
export interface WebSocketTransport {
  /** Opens (or reuses) a connection to `host:port`. */
  get(peer: string): Promise<Connection>;
  /** Offers a connection for reuse under `host:port`; it closes with the node. */
  add(peer: string, connection: Connection): void;
}

const transports = new WeakMap<Node, ConnectionPool>();

/**
 * Registers the WebSocket transport (type 3) on `node`, once: routes starting with
 * `3#host:port` then connect to `ws://host:port`, reusing an open connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { useWebSocketTransport } from "@sealroute/sealroute/transport";
 *
 * await using node = new Node();
 * assert(useWebSocketTransport(node) === useWebSocketTransport(node));
 * assert(node.transport(3) !== undefined);
 * ```
 */
export function useWebSocketTransport(
  node: Node,
  options: WebSocketOptions = {},
): WebSocketTransport {
  let pool = transports.get(node);
  if (!pool) {
    pool = new ConnectionPool(async (peer) => {
      const target = toUrl(peer);
      const connection = new WebSocketConnection(node, new WebSocket(target), {
        peer: target,
        ...options,
      });
      await connection.opened;
      return connection;
    });
    node.registerTransport(WS, pool);
    transports.set(node, pool);
  }
  return pool;
}

function toUrl(target: string): string {
  if (target.startsWith("3#")) return `ws://${target.slice(2)}`;
  if (/^wss?:\/\//.test(target)) return target;
  return `ws://${target}`;
}

function peerOf(url: string): string {
  const u = new URL(url);
  return u.host;
}

class WebSocketConnection implements Connection {
  readonly address: Address;
  readonly route: Route;
  readonly flow: Flow;
  readonly closed: Promise<Error>;
  readonly opened: Promise<void>;
  readonly #node: Node;
  readonly #socket: WebSocket;
  readonly #max: number;
  readonly #peer: string;
  readonly #replyAddress: Address;
  readonly #socketClosed: Promise<void>;
  #inbox: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  #maxQueued: number;
  #reason: Error | undefined;
  #resolveClosed!: (reason: Error) => void;
  #tearingDown = false;
  readonly #liveness: Liveness;
  readonly #writeTimeout: number;
  readonly #idleTimeout: number;
  #lastReceived = Date.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(node: Node, socket: WebSocket, options: WebSocketOptions) {
    this.#node = node;
    this.#socket = socket;
    this.#max = options.maxMessageSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxQueued = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.#writeTimeout = options.writeTimeout ?? DEFAULT_WRITE_TIMEOUT;
    this.#idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.address = Address.random();
    this.#peer = options.peer ?? this.address.toString();
    this.route = new Route([this.address]);
    this.#replyAddress = options.replyAddress ?? this.address;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    socket.binaryType = "arraybuffer";
    this.#socketClosed = new Promise<void>((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) resolve();
      socket.addEventListener("close", () => resolve(), { once: true });
    });
    this.opened = new Promise<void>((resolve, reject) => {
      if (socket.readyState === WebSocket.OPEN) return resolve();
      socket.addEventListener("open", () => resolve(), { once: true });
      void this.closed.then((reason) =>
        reject(
          new TransportError("connect-failed", `WebSocket to ${this.#peer} did not open`, {
            cause: reason,
          }),
        )
      );
    });
    this.opened.catch(() => {});
    socket.addEventListener("message", (event) => {
      // Peer input must never throw out of an event handler (that ends the process).
      try {
        this.#onMessage(event);
      } catch (error) {
        this.#refuse(
          new TransportError("bad-message", `unprocessable message from ${this.#peer}`, {
            cause: error,
          }),
        );
      }
    });
    socket.addEventListener("close", (event) => {
      void this.#fail(
        new TransportError(
          "connection-closed",
          `WebSocket to ${this.#peer} closed (code ${event.code})`,
        ),
      );
    });
    socket.addEventListener("error", () => {
      void this.#fail(new TransportError("websocket-error", `WebSocket to ${this.#peer} failed`));
    });
    this.#liveness = new Liveness(options, {
      beat: () => {
        if (socket.readyState !== WebSocket.OPEN) return;
        this.#socket.send(HEARTBEAT);
      },
      dead: (error) => {
        node.logger.warn("connection dead", { peer: this.#peer, reason: error.message });
        void this.#fail(error);
      },
    });
    node.startWorker(this.address, (ctx) => this.#send(ctx.message), {
      onStop: (reason) => this.#teardown(reason),
    });
    this.flow = linkFlow(node, this.address, { ...options, label: this.#peer });
    node.logger.info("connection opened", { peer: this.#peer, sender: this.address.toString() });
    this.#armIdle(this.#idleTimeout);
  }

  /** Closes the connection (`idle-timeout`) once nothing arrived for `idleTimeout` ms. */
  #armIdle(ms: number): void {
    if (this.#idleTimeout <= 0) return;
    this.#idleTimer = setTimeout(() => {
      const silent = Date.now() - this.#lastReceived;
      if (silent < this.#idleTimeout) return this.#armIdle(this.#idleTimeout - silent);
      const error = new TransportError(
        "idle-timeout",
        `nothing received from ${this.#peer} for ${this.#idleTimeout} ms`,
      );
      this.#node.logger.warn("connection lost", { peer: this.#peer, reason: error });
      void this.#fail(error);
    }, ms);
  }

  async close(): Promise<void> {
    // Messages already handed to the connection go out first (bounded, as for TCP).
    if (!this.#tearingDown) await withTimeout(this.#node.drained(this.address), 1000);
    return await this.#fail(
      new TransportError("connection-closed", `connection to ${this.#peer} closed locally`),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #fail(reason: Error): Promise<void> {
    this.#reason ??= reason;
    await this.#node.stopWorker(this.address, this.#reason);
    await this.closed;
  }

  /** Closes the connection over the peer's input, with the reason logged. */
  #refuse(error: TransportError): void {
    this.#node.logger.warn("connection lost", { peer: this.#peer, reason: error });
    void this.#fail(error);
  }

  #onMessage(event: MessageEvent): void {
    this.#liveness.received();
    this.#lastReceived = Date.now();
    if (this.#tearingDown) return;
    if (!(event.data instanceof ArrayBuffer)) {
      this.#refuse(
        new TransportError("bad-message", `expected binary WebSocket messages from ${this.#peer}`),
      );
      return;
    }
    const bytes = new Uint8Array(event.data);
    if (bytes.length > this.#max) {
      this.#refuse(
        new TransportError(
          "frame-too-large",
          `expected at most ${this.#max} bytes, got ${bytes.length}`,
        ),
      );
      return;
    }
    let message: RoutedMessage;
    try {
      message = decodeTransportMessage(bytes);
    } catch (error) {
      this.#refuse(
        new TransportError("bad-message", `undecodable message from ${this.#peer}`, {
          cause: error,
        }),
      );
      return;
    }
    if (message.onwardRoute.isEmpty) {
      this.#liveness.received(true);
      return;
    }
    const incoming = new RoutedMessage({
      onwardRoute: message.onwardRoute,
      returnRoute: message.returnRoute.prepend(this.#replyAddress),
      payload: message.payload,
    });
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#maxQueued) {
      this.#refuse(
        new TransportError(
          "overloaded",
          `more than ${this.#maxQueued} bytes from ${this.#peer} wait for a full mailbox`,
        ),
      );
      return;
    }
    this.#inbox = this.#inbox.then(() =>
      this.#tearingDown
        ? undefined
        : this.#node.deliver(incoming, { flow: this.flow }).finally(() => {
          this.#queuedBytes -= bytes.length;
        }).catch((error) => {
          if (!this.#tearingDown) {
            this.#node.logger.warn("incoming message dropped", {
              peer: this.#peer,
              onwardRoute: incoming.onwardRoute.toString(),
              error,
            });
          }
        })
    );
  }

  async #send(m: RoutedMessage): Promise<void> {
    const bytes = encodeTransportMessage(
      new RoutedMessage({
        onwardRoute: m.onwardRoute.popFront(),
        returnRoute: m.returnRoute,
        payload: m.payload,
      }),
    );
    if (bytes.length > this.#max) {
      this.#node.logger.warn("message larger than the maximum, dropped", {
        peer: this.#peer,
        size: bytes.length,
      });
      return;
    }
    if (this.#socket.readyState === WebSocket.CONNECTING) {
      try {
        await this.opened;
      } catch {
        return;
      }
    }
    if (this.#socket.readyState !== WebSocket.OPEN) {
      this.#node.logger.debug("socket not open, message dropped", { peer: this.#peer });
      return;
    }
    this.#socket.send(bytes as Uint8Array<ArrayBuffer>);
    this.#liveness.sent();
    // WebSocket has no write promise: poll bufferedAmount for backpressure. A peer that
    // stops reading keeps it high; past the write timeout the connection closes rather
    // than buffer without bound (or hold the sender, and what waits on it, forever).
    const deadline = Date.now() + this.#writeTimeout;
    for (let wait = 1; this.#socket.bufferedAmount > HIGH_WATER; wait = Math.min(wait * 2, 50)) {
      if (this.#socket.readyState !== WebSocket.OPEN || this.#tearingDown) return;
      if (this.#writeTimeout > 0 && Date.now() >= deadline) {
        const error = new TransportError(
          "write-timeout",
          `${this.#socket.bufferedAmount} bytes to ${this.#peer} unsent for ${this.#writeTimeout} ms`,
        );
        this.#node.logger.warn("connection lost", { peer: this.#peer, reason: error });
        // Not awaited: stopping this worker waits for this very handler.
        void this.#fail(error);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async #teardown(reason: Error | undefined): Promise<void> {
    this.#liveness.stop();
    clearTimeout(this.#idleTimer);
    this.#tearingDown = true;
    const why = this.#reason ?? reason ??
      new TransportError("connection-closed", `connection to ${this.#peer} closed`);
    this.#reason = why;
    const state = this.#socket.readyState;
    if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) {
      try {
        this.#socket.close(
          why instanceof RouteError || why.message.includes("locally") ? 1000 : 4000,
        );
      } catch {
        // closing a socket that is already closing
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#socketClosed,
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT)),
    ]);
    clearTimeout(timer);
    await this.#inbox;
    this.#node.logger.info("connection closed", { peer: this.#peer, reason: why.message });
    this.#resolveClosed(why);
  }
}
