// What the Deno and Node TCP adapters share: their options, the per-node connection pool
// behind `1#host:port` routes, dialling (once or reconnecting, over a list of peers) and
// host:port parsing. Each adapter brings only how a socket is opened and attached.
import { TransportError } from "../errors.ts";
import { type Node, TCP } from "../routing/mod.ts";
import { ConnectionPool } from "./_pool.ts";
import type { Connection, ConnectionLimits } from "./connection.ts";
import type { LinkFlowOptions } from "./link_flow.ts";
import type { LivenessOptions } from "./liveness.ts";
import {
  dialAny,
  type ReconnectingLink,
  reconnectingLink,
  type ReconnectOptions,
} from "./reconnecting_link.ts";

/** Options for dialled TCP connections: flow control, limits and liveness. */
export interface TcpOptions extends LinkFlowOptions, ConnectionLimits, LivenessOptions {
  /** Largest frame body accepted or sent. Default 16 MiB. */
  maxFrameSize?: number;
}

/** Opens one TCP connection to `host:port` and attaches it to the node. */
export type OpenTcp = (node: Node, peer: string, options: TcpOptions) => Promise<Connection>;

/** The connection limits set in `options`, and only those. */
export function limitsOf(options: ConnectionLimits): ConnectionLimits {
  const out: ConnectionLimits = {};
  if (options.firstByteTimeout !== undefined) out.firstByteTimeout = options.firstByteTimeout;
  if (options.frameTimeout !== undefined) out.frameTimeout = options.frameTimeout;
  if (options.idleTimeout !== undefined) out.idleTimeout = options.idleTimeout;
  if (options.writeTimeout !== undefined) out.writeTimeout = options.writeTimeout;
  if (options.maxWriteBuffer !== undefined) out.maxWriteBuffer = options.maxWriteBuffer;
  return out;
}

/** The liveness options set in `options`, and only those. */
export function livenessOf(options: LivenessOptions): LivenessOptions {
  const out: LivenessOptions = {};
  if (options.heartbeatInterval !== undefined) out.heartbeatInterval = options.heartbeatInterval;
  if (options.deadAfter !== undefined) out.deadAfter = options.deadAfter;
  if (options.expectHeartbeats !== undefined) out.expectHeartbeats = options.expectHeartbeats;
  return out;
}

/** `host:port` (IPv6 in brackets) split; `bad-address` otherwise. */
export function parseHostPort(peer: string): { hostname: string; port: number } {
  const colon = peer.lastIndexOf(":");
  const hostname = peer.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(peer.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TransportError("bad-address", `expected host:port, got '${peer}'`);
  }
  return { hostname, port };
}

function bare(peer: string): string {
  return peer.startsWith("1#") ? peer.slice(2) : peer;
}

/** An adapter's dialling: the pool, one-shot and reconnecting connections over `open`. */
export function tcpDialling(open: OpenTcp) {
  const pools = new WeakMap<Node, ConnectionPool>();
  const poolOf = (node: Node, options: TcpOptions): ConnectionPool => {
    let pool = pools.get(node);
    if (!pool) {
      pool = new ConnectionPool((peer) => open(node, peer, options));
      node.registerTransport(TCP, pool);
      pools.set(node, pool);
    }
    return pool;
  };
  return {
    poolOf,
    async connect(node: Node, peer: string, options: TcpOptions): Promise<Connection> {
      const target = bare(peer);
      const pool = poolOf(node, options);
      const connection = await open(node, target, options);
      pool.add(target, connection);
      return connection;
    },
    reconnect(
      node: Node,
      peer: string | readonly string[],
      options: TcpOptions & ReconnectOptions,
    ): Promise<ReconnectingLink> {
      const targets = (typeof peer === "string" ? [peer] : peer).map(bare);
      poolOf(node, options);
      return reconnectingLink(
        node,
        dialAny(
          targets,
          (target, { replyAddress, spawner }) =>
            open(node, target, { ...options, replyAddress, spawner }),
        ),
        { ...options, peer: targets.join(",") },
      );
    },
  };
}
