/**
 * TCP portals for Deno: {@linkcode createTcpOutlet} dials `host:port` for each portal
 * connection, {@linkcode createTcpInlet} listens on a local port and opens a portal for
 * each accepted connection. The protocol is in the portable `portal` module.
 *
 * @example An HTTP server reached through an inlet and an outlet
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTcpInlet, createTcpOutlet } from "@sealroute/sealroute/portal/deno";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * const options = { hostname: "127.0.0.1", port: 0, onListen() {} };
 * await using server = Deno.serve(options, () => new Response("hi"));
 * await using node = new Node();
 * await using _outlet = createTcpOutlet(node, { to: `127.0.0.1:${server.addr.port}` });
 * await using inlet = createTcpInlet(node, { route: "outlet" });
 * const response = await fetch(`http://127.0.0.1:${inlet.port}/`);
 * assert.equal(await response.text(), "hi");
 * ```
 *
 * @module
 */
import { TransportError } from "../errors.ts";
import type { Node } from "../routing/node.ts";
import type { RouteLike } from "../routing/route.ts";
import type { PortalConnection } from "./connection.ts";
import type { PortalSocket } from "./types.ts";
import {
  DEFAULT_MAX_PORTALS,
  openPortal,
  type OpenPortalOptions,
  type Outlet,
  type OutletOptions,
  startOutlet,
} from "./portal.ts";

/** Default time the outlet waits for its target to accept a connection, in ms. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * Wraps a Deno TCP connection as a {@linkcode PortalSocket}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tcpPortalSocket } from "@sealroute/sealroute/portal/deno";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * const port = listener.addr.port;
 * const a = tcpPortalSocket(await Deno.connect({ hostname: "127.0.0.1", port }));
 * const b = tcpPortalSocket(await accepted);
 * await a.write(new Uint8Array([1, 2]));
 * await a.closeWrite();
 * const buffer = new Uint8Array(8);
 * assert.equal(await b.read(buffer), 2);
 * assert.equal(await b.read(buffer), null);
 * a.close();
 * b.close();
 * ```
 */
export function tcpPortalSocket(conn: Deno.TcpConn): PortalSocket {
  let closed = false;
  return {
    read: (buffer) => conn.read(buffer),
    write: async (bytes) => {
      let at = 0;
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
    },
    closeWrite: () => conn.closeWrite(),
    close: () => {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Splits `host:port` (IPv6 in brackets). */
function hostPort(text: string): { hostname: string; port: number } {
  const colon = text.lastIndexOf(":");
  const hostname = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TransportError("bad-address", `expected host:port, got '${text}'`);
  }
  return { hostname, port };
}

/** Options of {@linkcode createTcpOutlet}. */
export interface TcpOutletOptions extends Omit<OutletOptions, "connect" | "target"> {
  /** The service to dial for each portal connection, `host:port`. */
  to: string;
  /** How long to wait for the target to accept, in ms. Default 10 000. */
  connectTimeout?: number;
}

/**
 * Starts a TCP outlet: each portal connection dials `to` (Ockam's `tcp-outlet`).
 *
 * @throws {TransportError} code `bad-address` for a `to` that is not `host:port`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTcpOutlet } from "@sealroute/sealroute/portal/deno";
 * import { Node } from "@sealroute/sealroute/routing";
 * await using node = new Node();
 * await using outlet = createTcpOutlet(node, { to: "127.0.0.1:8080", address: "web" });
 * assert.equal(outlet.address.toString(), "web");
 * ```
 */
export function createTcpOutlet(node: Node, options: TcpOutletOptions): Outlet {
  const { to, connectTimeout = DEFAULT_CONNECT_TIMEOUT, ...rest } = options;
  const target = hostPort(to);
  return startOutlet(node, {
    ...rest,
    target: to,
    connect: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const dial = Deno.connect(target);
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TransportError("timeout", `no answer within ${connectTimeout} ms`)),
          connectTimeout,
        );
      });
      try {
        const conn = await Promise.race([dial, timedOut]);
        conn.setNoDelay(true);
        return tcpPortalSocket(conn);
      } catch (error) {
        dial.then((late) => late.close(), () => {});
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** Options of {@linkcode createTcpInlet}. */
export interface TcpInletOptions extends Omit<OpenPortalOptions, "route" | "label"> {
  /**
   * The route to the outlet for each new connection, or a function giving it (for a channel
   * that may be replaced).
   */
  route: RouteLike | (() => RouteLike);
  /** The address to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /** The port to listen on; 0 picks one. Default 0. */
  port?: number;
  /** Most connections open at once; more are closed at once. Default 1024. */
  maxConnections?: number;
}

/** A listening TCP inlet; see {@linkcode createTcpInlet}. */
export interface TcpInlet extends AsyncDisposable {
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  /** The port listened on. */
  readonly port: number;
  /** The portal connections open now. */
  readonly connections: ReadonlySet<PortalConnection>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a TCP inlet: listens on `hostname:port` and opens a portal along `route` for each
 * accepted connection (Ockam's `tcp-inlet`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTcpInlet } from "@sealroute/sealroute/portal/deno";
 * import { Node } from "@sealroute/sealroute/routing";
 * await using node = new Node();
 * await using inlet = createTcpInlet(node, { route: ["secure", "outlet"] });
 * assert(inlet.port > 0 && inlet.connections.size === 0);
 * ```
 */
export function createTcpInlet(node: Node, options: TcpInletOptions): TcpInlet {
  const { route, hostname = "127.0.0.1", port = 0, maxConnections, ...portal } = options;
  const max = maxConnections ?? DEFAULT_MAX_PORTALS;
  const listener = Deno.listen({ hostname, port });
  const addr = listener.addr;
  const connections = new Set<PortalConnection>();
  let closing: Promise<void> | undefined;
  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) break;
        node.logger.warn("inlet: accept failed, retrying", { error });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const peer = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
      if (connections.size >= max) {
        node.logger.warn("inlet: connection refused: at the connection limit", { peer, max });
        conn.close();
        continue;
      }
      conn.setNoDelay(true);
      try {
        const connection = openPortal(node, tcpPortalSocket(conn), {
          ...portal,
          route: typeof route === "function" ? route() : route,
          label: peer,
        });
        connections.add(connection);
        void connection.closed.then(() => connections.delete(connection));
      } catch (error) {
        node.logger.warn("inlet: could not open a portal", { peer, error });
        conn.close();
      }
    }
  })();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      unhook();
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      await Promise.all([...connections].map((c) => {
        c.close();
        return c.closed;
      }));
    })();
    return closing;
  };
  const unhook = node.onClose(close);
  return { addr, port: addr.port, connections, close, [Symbol.asyncDispose]: close };
}
