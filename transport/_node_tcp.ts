// The TCP half of the Node adapter (Node 20+, Bun, Deno's Node compatibility) on `node:net`:
// listener, dialler, pool and the socket duplex. The protocol itself (version byte, frames,
// bounds, heartbeats, flow control) is `attachDuplex`'s, exactly as for the Deno adapter.
import * as net from "node:net";
import { TransportError } from "../errors.ts";
import type { Flow, Node } from "../routing/mod.ts";
import {
  limitsOf,
  livenessOf,
  parseHostPort,
  tcpDialling,
  type TcpOptions,
} from "./_tcp_common.ts";

export type { TcpOptions } from "./_tcp_common.ts";
import {
  attachDuplex,
  type AttachOptions,
  type Connection,
  type ConnectionLimits,
} from "./connection.ts";
import { bounded, LINGER, socketDuplex } from "./_node_socket_duplex.ts";
import type { LinkFlowOptions } from "./link_flow.ts";
import type { LivenessOptions } from "./liveness.ts";
import type { ReconnectingLink, ReconnectOptions } from "./reconnecting_link.ts";

/** Default cap on the connections one listener keeps open at once (as the Deno adapter's). */
export const DEFAULT_MAX_CONNECTIONS = 4096;

/** A bound TCP address, shaped like `Deno.NetAddr`. */
export interface NetAddr {
  /** Always `"tcp"`. */
  readonly transport: "tcp";
  /** The bound interface, e.g. `"127.0.0.1"`. */
  readonly hostname: string;
  /** The bound port. */
  readonly port: number;
}

/**
 * Options for {@linkcode listenTcp}, the same as the Deno adapter's: `allowRemoteDial` and
 * `consumes` apply to every accepted connection (see {@linkcode LinkFlowOptions}), and so do
 * the timeouts and write bounds of {@linkcode ConnectionLimits}.
 */
export interface ListenTcpOptions
  extends Omit<LinkFlowOptions, "spawner">, ConnectionLimits, LivenessOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Connections open at once; one accepted past it is closed at once, with a warning
   * logged. Default {@linkcode DEFAULT_MAX_CONNECTIONS}.
   */
  maxConnections?: number;
  /** Largest frame body accepted or sent. Default 16 MiB. */
  maxFrameSize?: number;
  /** Called with each accepted connection. */
  onConnection?: (connection: Connection) => void;
}

/** A TCP listener attached to a node; see {@linkcode listenTcp}. */
export interface TcpListener {
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** The bound address. */
  readonly addr: NetAddr;
  /** The bound port. */
  readonly port: number;
  /** The listener's flow, the spawner of every accepted connection's flow. */
  readonly flow: Flow;
  /** Connections accepted and still open. */
  readonly connections: ReadonlySet<Connection>;
  /** Stops accepting and closes the accepted connections. */
  close(): Promise<void>;
}

/**
 * Listens for Ockam TCP connections with `node:net` and attaches each accepted one to `node`;
 * also registers the TCP transport on `node` so it can route onwards to `1#host:port`. The
 * listener closes with the node (or earlier with `close()`).
 *
 * Unlike the Deno adapter's, it resolves once the socket is bound (`node:net` binds
 * asynchronously): `await listenTcp(...)` works with both adapters. A failed accept (out of
 * file descriptors) is logged and the listener keeps accepting; past `maxConnections` an
 * accepted connection is closed straight away, with a warning.
 *
 * @throws {TransportError} code `listen-failed` (e.g. the port is in use).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { listenTcp } from "@sealroute/sealroute/transport/node";
 *
 * await using node = new Node();
 * await using listener = await listenTcp(node, { port: 0 });
 * assert(listener.port > 0 && listener.addr.hostname === "127.0.0.1");
 * ```
 */
export async function listenTcp(node: Node, options: ListenTcpOptions = {}): Promise<TcpListener> {
  dialling.poolOf(
    node,
    options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize },
  );
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(
        new TransportError("listen-failed", "could not listen for TCP connections", {
          cause: error,
        }),
      );
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host: options.hostname ?? "127.0.0.1", port: options.port ?? 0 });
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") {
    server.close();
    throw new TransportError("listen-failed", "the listener has no TCP address");
  }
  const addr: NetAddr = { transport: "tcp", hostname: bound.address, port: bound.port };
  const connections = new Set<Connection>();
  let closing: Promise<void> | undefined;
  const flow = node.flowControls.createFlow({
    label: `tcp listener ${addr.hostname}:${addr.port}`,
    allowRemoteDial: options.allowRemoteDial ?? false,
  });
  const attach: AttachOptions = {
    spawner: flow,
    ...(options.consumes ? { consumes: options.consumes } : {}),
    ...(options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize }),
    ...limitsOf(options),
    ...livenessOf(options),
  };
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // After listening, `error` is a failed accept (EMFILE/ENFILE): the server keeps listening.
  server.on("error", (error) => node.logger.warn("TCP accept failed", { error }));
  server.on("connection", (socket: net.Socket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    if (closing) {
      socket.destroy();
      return;
    }
    if (connections.size >= maxConnections) {
      node.logger.warn("connection refused: the listener is at its connection limit", {
        peer,
        maxConnections,
      });
      socket.destroy();
      return;
    }
    let connection: Connection;
    try {
      // Frames are written whole: Nagle's delay would only hold small ones back.
      socket.setNoDelay(true);
      connection = attachDuplex(node, socketDuplex(socket), { ...attach, peer });
    } catch (error) {
      // The node is closing: nothing can take the connection.
      node.logger.warn("connection refused", { peer, error });
      socket.destroy();
      return;
    }
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
    try {
      options.onConnection?.(connection);
    } catch (error) {
      node.logger.error("onConnection callback failed", { peer, error });
    }
  });
  const close = (): Promise<void> => {
    closing ??= (async () => {
      unhook();
      // Stops accepting; the callback comes once every accepted socket is gone too.
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...connections].map((c) => c.close()));
      await bounded(stopped, LINGER);
    })();
    return closing;
  };
  const unhook = node.onClose(close);
  node.logger.info("TCP listener started", { hostname: addr.hostname, port: addr.port });
  return {
    addr,
    port: addr.port,
    flow,
    connections,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Registers the TCP transport (type 1) on `node`, once, so routes starting with
 * `1#host:port` connect over `node:net` (reusing an open connection to the same
 * `host:port`). Connections close with the node. {@linkcode listenTcp} and
 * {@linkcode connectTcp} call it for you.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { useTcpTransport } from "@sealroute/sealroute/transport/node";
 *
 * await using node = new Node();
 * useTcpTransport(node);
 * assert(node.transport(1) !== undefined);
 * ```
 */
export function useTcpTransport(node: Node, options: TcpOptions = {}): void {
  dialling.poolOf(node, options);
}

/**
 * Opens a new TCP connection to `host:port` (or `1#host:port`) with `node:net` and attaches
 * it to `node`; it is also offered for reuse by `1#host:port` routes if none is open yet.
 *
 * @throws {TransportError} code `bad-address` or `connect-failed`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { connectTcp, listenTcp } from "@sealroute/sealroute/transport/node";
 *
 * await using server = new Node();
 * await using client = new Node();
 * await using listener = await listenTcp(server);
 * startEcho(server, { consumes: [listener.flow] });
 * await using link = await connectTcp(client, `127.0.0.1:${listener.port}`);
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([1]), { timeout: 2000 });
 * assert(reply.payload[0] === 1);
 * ```
 */
export async function connectTcp(
  node: Node,
  peer: string,
  options: TcpOptions = {},
): Promise<Connection> {
  return await dialling.connect(node, peer, options);
}

/**
 * Opens a TCP link to `host:port` that is dialled again whenever it is lost, with backoff
 * (see {@linkcode reconnectingLink}); resolves once the first connection is up.
 *
 * @throws {TransportError} code `connect-failed` when the first connection fails.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { listenTcp, reconnectTcp } from "@sealroute/sealroute/transport/node";
 *
 * await using server = new Node();
 * await using client = new Node();
 * await using listener = await listenTcp(server);
 * startEcho(server, { consumes: [listener.flow] });
 * await using link = await reconnectTcp(client, `127.0.0.1:${listener.port}`, { initialDelay: 10 });
 * const back = new Promise((resolve) => link.on((e) => e.type === "connected" && resolve(e)));
 * for (const c of listener.connections) await c.close(); // the server drops the link
 * await back;
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([3]), { timeout: 5000 });
 * assert.equal(reply.payload[0], 3);
 * ```
 */
export function reconnectTcp(
  node: Node,
  peer: string | readonly string[],
  options: TcpOptions & ReconnectOptions = {},
): Promise<ReconnectingLink> {
  return dialling.reconnect(node, peer, options);
}

async function openTcp(node: Node, peer: string, options: TcpOptions): Promise<Connection> {
  const { hostname, port } = parseHostPort(peer);
  let socket: net.Socket;
  try {
    socket = await dial(hostname, port);
  } catch (error) {
    throw new TransportError("connect-failed", `could not connect to ${peer}`, { cause: error });
  }
  socket.setNoDelay(true);
  try {
    return attachDuplex(node, socketDuplex(socket), { ...options, peer });
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function dial(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const onError = (error: Error) => {
      socket.off("connect", onConnect);
      socket.destroy();
      reject(error);
    };
    const onConnect = () => {
      socket.off("error", onError);
      resolve(socket);
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

const dialling = tcpDialling(openTcp);
