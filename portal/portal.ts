/**
 * The portable halves of a portal: {@linkcode startOutlet} (the worker that, for each
 * `Ping`, dials the target and answers `Pong` from a new connection worker) and
 * {@linkcode openPortal} (one accepted socket at the inlet: `Ping` along a route, wait for
 * `Pong`, learn the outlet connection's address from its return route). The TCP listener
 * and dialler are in portal/deno.ts.
 *
 * @module
 */
import type { Address, AddressLike } from "../routing/address.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { Node } from "../routing/node.ts";
import type { AccessHook } from "../routing/node_options.ts";
import { Route, type RouteLike } from "../routing/route.ts";
import { LOCAL_INFO_IDENTIFIER, type RoutedMessage } from "../routing/routed_message.ts";
import { PortalConnection } from "./connection.ts";
import {
  DEFAULT_PORTAL_IDLE_TIMEOUT,
  DEFAULT_PORTAL_WINDOW,
  errorText,
  type PortalSocket,
} from "./types.ts";
import { decodePortalMessage, encodePortalMessage, MAX_PORTAL_WINDOW } from "./messages.ts";
import { LOCAL_INFO_CHANNEL } from "../channel/secure_channel_options.ts";

/** The outlet's default address (Ockam's service name in `ockam tcp-outlet create`). */
export const DEFAULT_OUTLET_ADDRESS = "outlet";
/** Default cap on open connections per inlet or outlet. */
export const DEFAULT_MAX_PORTALS = 1024;
/** Default time an inlet waits for the outlet's `Pong`, in ms. */
export const DEFAULT_PONG_TIMEOUT = 10_000;

/** Options shared by inlets and outlets. */
export interface PortalTuning {
  /** Flow-control window per direction in bytes. Default {@linkcode DEFAULT_PORTAL_WINDOW}. */
  window?: number;
  /** Close a connection with no bytes either way for this long, in ms; 0 never. Default 15 min. */
  idleTimeout?: number;
  /** Most connections open at once. Default {@linkcode DEFAULT_MAX_PORTALS}. */
  maxConnections?: number;
}

/** Options of {@linkcode startOutlet}. */
export interface OutletOptions extends PortalTuning {
  /** Dials the target for one portal connection. */
  connect: () => Promise<PortalSocket>;
  /** The target, for log lines (e.g. `127.0.0.1:8080`). */
  target: string;
  /** The listener's address. Default {@linkcode DEFAULT_OUTLET_ADDRESS}. */
  address?: AddressLike;
  /**
   * Who may open a portal: checked on each `Ping` (e.g. `abacAccessControl(...)`,
   * `trustPolicyAccessControl(...)` from the channel module). A refused `Ping` is answered
   * with `Disconnect` at once and logged. Default: whoever reaches the outlet.
   */
  access?: AccessHook;
  /** Flows the outlet hears from (e.g. a channel listener's `flow`). Default: none (local). */
  consumes?: readonly Flow[];
}

/** A running outlet; see {@linkcode startOutlet}. */
export interface Outlet extends AsyncDisposable {
  /** The listener worker's address (inlets send `Ping` here). */
  readonly address: Address;
  /** The connections open now. */
  readonly connections: ReadonlySet<PortalConnection>;
  /** Portals refused so far (policy, target, limit). */
  readonly refused: number;
  /** Stops the listener and closes every connection. */
  close(): Promise<void>;
}

function tuning(options: PortalTuning): { window: number; idle: number; max: number } {
  const window = options.window ?? DEFAULT_PORTAL_WINDOW;
  if (!Number.isInteger(window) || window < 1 || window > MAX_PORTAL_WINDOW) {
    throw new RangeError(`window must be 1..${MAX_PORTAL_WINDOW} bytes, got ${window}`);
  }
  const idle = options.idleTimeout ?? DEFAULT_PORTAL_IDLE_TIMEOUT;
  if (!(idle >= 0)) throw new RangeError(`idleTimeout must be >= 0, got ${idle}`);
  const max = options.maxConnections ?? DEFAULT_MAX_PORTALS;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(`maxConnections must be a positive integer, got ${max}`);
  }
  return { window, idle, max };
}

function peerText(message: RoutedMessage): string {
  const id = message.localInfo[LOCAL_INFO_IDENTIFIER];
  return typeof id === "string" ? id.slice(0, 80) : "(no channel)";
}

/**
 * Starts an outlet: for each `Ping` it checks `access`, dials the target and answers
 * `Pong` from a new connection worker (Ockam's `TcpOutletListenWorker`).
 *
 * @example Ping and Pong by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePortalMessage, startOutlet } from "@sealroute/sealroute/portal";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * const socket = {
 *   read: () => new Promise<null>(() => {}),
 *   write: () => Promise.resolve(),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * };
 * await using outlet = startOutlet(node, { connect: () => Promise.resolve(socket), target: "t" });
 * const pong = await node.request(outlet.address, new Uint8Array([0]), { timeout: 1000 });
 * assert.deepEqual(decodePortalMessage(pong.payload), { type: "pong" }); // an Ockam peer: plain
 * ```
 */
export function startOutlet(node: Node, options: OutletOptions): Outlet {
  const { window, idle, max } = tuning(options);
  const connections = new Set<PortalConnection>();
  let refused = 0;
  let dialling = 0;
  const log = node.logger;
  const address = node.startWorker(
    options.address ?? DEFAULT_OUTLET_ADDRESS,
    async (ctx) => {
      const message = ctx.message;
      const peer = peerText(message);
      let ping;
      try {
        ping = decodePortalMessage(message.payload);
      } catch (error) {
        log.warn("outlet: a message that is not a portal message", { error: errorText(error) });
        return;
      }
      if (ping.type !== "ping") {
        log.warn(`outlet: expected ping, got ${ping.type}`, { peer });
        return;
      }
      const offered = ping.window !== undefined;
      const refuse = (reason: "refused" | "target-unreachable" | "limit", why: string) => {
        refused++;
        log.warn(`outlet: portal refused: ${why}`, { peer, target: options.target, reason });
        const answer = encodePortalMessage(
          offered ? { type: "disconnect", reason } : { type: "disconnect" },
        );
        return ctx.reply(answer).catch(() => {});
      };
      if (options.access) {
        let ok = false;
        try {
          ok = await options.access(message);
        } catch {
          ok = false;
        }
        if (!ok) return refuse("refused", `${peer} does not satisfy the outlet's policy`);
      }
      if (connections.size + dialling >= max) {
        return refuse("limit", `${max} connections are open (maxConnections)`);
      }
      // Dial without holding up other Pings.
      dialling++;
      void (async () => {
        let socket: PortalSocket;
        try {
          socket = await options.connect();
        } catch (error) {
          return refuse(
            "target-unreachable",
            `could not connect to ${options.target}: ${errorText(error)}`,
          );
        } finally {
          dialling--;
        }
        if (!node.hasWorker(address)) return socket.close(); // the outlet closed meanwhile
        const channel = message.localInfo[LOCAL_INFO_CHANNEL];
        const connection = new PortalConnection({
          node,
          socket,
          side: "outlet",
          label: `${peer} -> ${options.target}`,
          window,
          idleTimeout: idle,
          ...(ctx.flow ? { consumes: [ctx.flow] } : {}),
          // Only the channel the Ping came through may talk to this connection.
          incoming: (m) => m.localInfo[LOCAL_INFO_CHANNEL] === channel,
        });
        connections.add(connection);
        void connection.closed.then(() => connections.delete(connection));
        const remote = message.returnRoute;
        connection.establish(remote, ping.window, true);
        // Pong after the target is connected, before any payload (Ockam's order).
        try {
          await connection.send(remote, offered ? { type: "pong", window } : { type: "pong" });
          connection.start();
        } catch (error) {
          log.warn("outlet: could not answer pong", { error: errorText(error) });
          connection.close("closed", false);
        }
      })();
    },
    { ...(options.consumes ? { consumes: options.consumes } : {}) },
  );
  const close = async (): Promise<void> => {
    await node.stopWorker(address);
    for (const c of [...connections]) c.close();
  };
  return {
    address,
    connections,
    get refused() {
      return refused;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options of {@linkcode openPortal}. */
export interface OpenPortalOptions extends Omit<PortalTuning, "maxConnections"> {
  /**
   * Route to the outlet's listener, e.g. `[channel.address, "outlet"]` for an outlet
   * behind a secure channel.
   */
  route: RouteLike;
  /** How long to wait for `Pong`, in ms. Default {@linkcode DEFAULT_PONG_TIMEOUT}. */
  timeout?: number;
  /** For log lines (e.g. the accepted client's address). */
  label?: string;
  /** Send Ockam's plain `Ping` (no extension offered). Default `false`. */
  plain?: boolean;
}

/**
 * Opens one portal for an accepted socket: sends `Ping` along `route`, and on `Pong`
 * pipes bytes both ways. A `Disconnect` instead of `Pong` (the outlet refused, or could
 * not reach its target), a timeout or a closed channel closes the socket at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPortal } from "@sealroute/sealroute/portal";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * node.startWorker("outlet", (ctx) => ctx.reply(new Uint8Array([2, 1]))); // refuses
 * let closed = false;
 * const socket = {
 *   read: () => new Promise<null>(() => {}),
 *   write: () => Promise.resolve(),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => { closed = true; },
 * };
 * const portal = openPortal(node, socket, { route: "outlet" });
 * assert.deepEqual(await portal.closed, { reason: "refused", by: "peer" });
 * assert(closed);
 * ```
 */
export function openPortal(
  node: Node,
  socket: PortalSocket,
  options: OpenPortalOptions,
): PortalConnection {
  const { window, idle } = tuning(options);
  const route = Route.from(options.route);
  const timeout = options.timeout ?? DEFAULT_PONG_TIMEOUT;
  const label = options.label ?? "portal";
  const offer = !(options.plain ?? false);
  const connection = new PortalConnection({
    node,
    socket,
    side: "inlet",
    label: `${label} -> ${route}`,
    window,
    idleTimeout: idle,
  });
  const timer = setTimeout(() => {
    node.logger.warn("inlet: no pong from the outlet, closing", {
      portal: label,
      timeoutMs: timeout,
    });
    connection.close("timeout", false);
  }, timeout);
  void connection.closed.then(() => clearTimeout(timer));
  connection.onMessage = (ctx, message) => {
    if (message.type === "pong") {
      clearTimeout(timer);
      connection.establish(ctx.message.returnRoute, message.window, offer);
      connection.start();
    } else if (message.type === "disconnect") {
      const why = message.reason === "refused"
        ? "the outlet refused this portal (its access policy)"
        : message.reason === "target-unreachable"
        ? "the outlet could not connect to its target"
        : message.reason === "limit"
        ? "the outlet is at its connection limit"
        : "the outlet ended the portal before it opened";
      node.logger.warn(`inlet: portal refused: ${why}`, {
        portal: label,
        reason: message.reason ?? "unknown",
      });
      connection.onMessage = undefined;
      connection.closeAs(message.reason ?? "remote");
    } else {
      node.logger.warn(`inlet: expected pong, got ${message.type}`, { portal: label });
    }
  };
  connection.watch(route);
  connection.send(route, offer ? { type: "ping", window } : { type: "ping" }, {
    receiveReplies: true,
  }).catch((error) => {
    node.logger.warn("inlet: could not send ping to the outlet", {
      portal: label,
      error: errorText(error),
    });
    connection.close("closed", false);
  });
  return connection;
}
