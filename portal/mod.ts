/**
 * Portals: reach a TCP service behind a device through a secure channel (Ockam's TCP
 * inlets and outlets). An inlet listens on a local port; each accepted connection sends
 * `Ping` along a route (normally `[channel, "outlet"]`, through a relay); the outlet checks
 * its policy, dials its target and answers `Pong` from a worker for that connection; then
 * bytes flow both ways as `Payload` messages. The messages are Ockam's, byte for byte
 * ({@linkcode encodePortalMessage}); between two Sealroute ends an extension offered in
 * `Ping`/`Pong` adds flow control (a window per direction, so a slow reader holds back the
 * far socket instead of filling memory) and half-close.
 *
 * This module is portable: it moves bytes between a {@linkcode PortalSocket} and a node.
 * The TCP listener and dialler are in `portal/deno` (`createTcpInlet`, `createTcpOutlet`).
 *
 * @example An outlet and a portal over in-memory sockets
 * ```ts
 * import assert from "node:assert/strict";
 * import { openPortal, type PortalSocket, startOutlet } from "@sealroute/sealroute/portal";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * // A socket whose reads come from `input` and whose writes go to `output`.
 * const socket = (input: Uint8Array[], output: Uint8Array[]): PortalSocket => ({
 *   read: (buffer) => {
 *     const next = input.shift();
 *     if (!next) return new Promise(() => {}); // nothing more, never ends
 *     buffer.set(next);
 *     return Promise.resolve(next.length);
 *   },
 *   write: (bytes) => (output.push(bytes.slice()), Promise.resolve()),
 *   closeWrite: () => Promise.resolve(),
 *   close: () => {},
 * });
 * await using node = new Node();
 * const atService: Uint8Array[] = [];
 * await using _outlet = startOutlet(node, {
 *   target: "memory",
 *   connect: () => Promise.resolve(socket([], atService)),
 * });
 * const portal = openPortal(node, socket([new Uint8Array([1, 2, 3])], []), { route: "outlet" });
 * while (atService.length === 0) await new Promise((r) => setTimeout(r, 5));
 * assert.deepEqual(atService[0], new Uint8Array([1, 2, 3]));
 * assert(portal.extended); // both ends are Sealroute
 * portal.close();
 * ```
 *
 * @module
 */
export {
  decodePortalMessage,
  type DisconnectReason,
  encodePayload,
  encodePortalMessage,
  MAX_PORTAL_PAYLOAD_SIZE,
  MAX_PORTAL_WINDOW,
  type PortalMessage,
} from "./messages.ts";
export { PortalConnection } from "./connection.ts";
export {
  type ConnectionInit,
  DEFAULT_PORTAL_IDLE_TIMEOUT,
  DEFAULT_PORTAL_WINDOW,
  type PortalClose,
  type PortalSocket,
  type PortalStats,
} from "./types.ts";
export {
  DEFAULT_MAX_PORTALS,
  DEFAULT_OUTLET_ADDRESS,
  DEFAULT_PONG_TIMEOUT,
  openPortal,
  type OpenPortalOptions,
  type Outlet,
  type OutletOptions,
  type PortalTuning,
  startOutlet,
} from "./portal.ts";
