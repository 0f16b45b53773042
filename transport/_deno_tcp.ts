// The TCP half of the Deno adapter: listener, dialler, pool and the socket duplex.
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
import type { Duplex } from "./duplex.ts";
import type { LinkFlowOptions } from "./link_flow.ts";
import type { LivenessOptions } from "./liveness.ts";
import { Pause } from "../_pause.ts";
import type { ReconnectingLink, ReconnectOptions } from "./reconnecting_link.ts";

/** Default cap on the connections one listener (TCP or WebSocket) keeps open at once. */
export const DEFAULT_MAX_CONNECTIONS = 4096;

/**
 * Options for {@linkcode listenTcp}. `allowRemoteDial` and `consumes` apply to every
 * accepted connection (see {@linkcode LinkFlowOptions}), and so do the timeouts and write
 * bounds of {@linkcode ConnectionLimits}.
 */
export interface ListenTcpOptions
  extends Omit<LinkFlowOptions, "spawner">, ConnectionLimits, LivenessOptions {
  /** Interface to bind. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Connections open at once; one accepted past it is closed at once, with a warning
   * logged. Default {@linkcode DEFAULT_MAX_CONNECTIONS} (4096: at ≈ 20 KB per idle
   * connection, ≈ 80 MB; each connection's partial frame costs only what its peer sent).
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
  readonly addr: Deno.NetAddr;
  /** The bound port. */
  readonly port: number;
  /**
   * The listener's flow, the spawner of every accepted connection's flow: workers that
   * consume it (e.g. `startEcho(node, { consumes: [listener.flow] })`, a secure-channel
   * listener's `consumes`) hear from every connection this listener accepts.
   */
  readonly flow: Flow;
  /** Connections accepted and still open. */
  readonly connections: ReadonlySet<Connection>;
  /** Stops accepting and closes the accepted connections. */
  close(): Promise<void>;
}

/**
 * Listens for Ockam TCP connections and attaches each accepted one to `node`; also
 * registers the TCP transport on `node` so it can route onwards to `1#host:port`. The
 * listener closes with the node (or earlier with `close()`).
 *
 * The accept loop outlives failed accepts: out of file descriptors (EMFILE/ENFILE) it logs,
 * backs off (10 ms doubling to 1 s) and keeps accepting. Past `maxConnections` an accepted
 * connection is closed straight away, with a warning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { listenTcp } from "@sealroute/sealroute/transport/deno";
 *
 * await using node = new Node();
 * await using listener = listenTcp(node, { port: 0 });
 * assert(listener.port > 0 && listener.addr.hostname === "127.0.0.1");
 * ```
 */
export function listenTcp(node: Node, options: ListenTcpOptions = {}): TcpListener {
  dialling.poolOf(
    node,
    options.maxFrameSize === undefined ? {} : { maxFrameSize: options.maxFrameSize },
  );
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  const addr = listener.addr;
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
  const pause = new Pause();
  const accepting = (async () => {
    let delay = 0;
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
        delay = 0;
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) break;
        // EMFILE/ENFILE (or another failed accept): the listener itself is fine, so wait for
        // descriptors to come back instead of ending the loop.
        delay = Math.min(ACCEPT_BACKOFF_MAX, delay === 0 ? ACCEPT_BACKOFF_MIN : delay * 2);
        node.logger.warn("TCP accept failed, retrying", { error, retryInMs: delay });
        await pause.sleep(delay);
        continue;
      }
      const remote = conn.remoteAddr;
      const peer = `${remote.hostname}:${remote.port}`;
      if (connections.size >= maxConnections) {
        node.logger.warn("connection refused: the listener is at its connection limit", {
          peer,
          maxConnections,
        });
        closeQuietly(conn);
        continue;
      }
      let connection: Connection;
      try {
        // Frames are written whole: Nagle's delay would only hold small ones back.
        conn.setNoDelay(true);
        connection = attachDuplex(node, tcpDuplex(conn), { ...attach, peer });
      } catch (error) {
        // The node is closing: nothing can take the connection.
        node.logger.warn("connection refused", { peer, error });
        closeQuietly(conn);
        continue;
      }
      connections.add(connection);
      void connection.closed.then(() => connections.delete(connection));
      try {
        options.onConnection?.(connection);
      } catch (error) {
        node.logger.error("onConnection callback failed", { peer, error });
      }
    }
  })();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      pause.wake();
      unhook();
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      await Promise.all([...connections].map((c) => c.close()));
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

/** First and longest pause of the accept loop after a failed accept, in ms. */
export const ACCEPT_BACKOFF_MIN = 10;
export const ACCEPT_BACKOFF_MAX = 1000;

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Registers the TCP transport (type 1) on `node`, once, so routes starting with
 * `1#host:port` connect (reusing an open connection to the same `host:port`). Connections
 * close with the node. {@linkcode listenTcp} and {@linkcode connectTcp} call it for you.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { useTcpTransport } from "@sealroute/sealroute/transport/deno";
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
 * Opens a new TCP connection to `host:port` (or `1#host:port`) and attaches it to `node`;
 * it is also offered for reuse by `1#host:port` routes if none is open yet.
 *
 * @throws {TransportError} code `connect-failed`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { connectTcp, listenTcp } from "@sealroute/sealroute/transport/deno";
 *
 * await using server = new Node();
 * await using client = new Node();
 * await using listener = listenTcp(server);
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
 * (see {@linkcode reconnectingLink}); resolves once the first connection is up. Given several
 * peers (a fleet's relays), each dial tries them in turn ({@linkcode dialAny}). Routes
 * through `link.route`, channels and relays over it outlive each connection.
 *
 * @throws {TransportError} code `connect-failed` when the first connection fails.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { listenTcp, reconnectTcp } from "@sealroute/sealroute/transport/deno";
 *
 * await using server = new Node();
 * await using client = new Node();
 * await using listener = listenTcp(server);
 * startEcho(server, { consumes: [listener.flow] });
 * await using link = await reconnectTcp(client, `127.0.0.1:${listener.port}`, { initialDelay: 10 });
 * const back = new Promise((resolve) => link.on((e) => e.type === "connected" && resolve(e)));
 * for (const c of listener.connections) await c.close(); // the server drops the link
 * await back;
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([3]), { timeout: 5000 });
 * assert.equal(reply.payload[0], 3);
 * assert.equal(link.reconnects, 1);
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
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname, port });
  } catch (error) {
    throw new TransportError("connect-failed", `could not connect to ${peer}`, { cause: error });
  }
  conn.setNoDelay(true);
  try {
    return attachDuplex(node, tcpDuplex(conn), { ...options, peer });
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
}

/**
 * Wraps a Deno TCP connection as a {@linkcode Duplex}.
 *
 * @example
 * ```ts
 * import { tcpDuplex } from "@sealroute/sealroute/transport/deno";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * const duplex = tcpDuplex(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
 * const other = tcpDuplex(await accepted);
 * await duplex.close();
 * await other.close();
 * ```
 */
export function tcpDuplex(conn: Deno.Conn): Duplex {
  let closed = false;
  return {
    readable: conn.readable,
    writable: conn.writable,
    close: (): Promise<void> => {
      if (!closed) {
        closed = true;
        try {
          conn.close();
        } catch {
          // the streams may have closed the resource already
        }
      }
      return Promise.resolve();
    },
  };
}

const dialling = tcpDialling(openTcp);
