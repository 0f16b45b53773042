// Internal: what ends a secure-channel initiator's wait for handshake message 2 before its
// timeout, so known answers come fast: the first hop of its route (a connection) stopping
// with a reason (the peer closed, spoke HTTP on the port: `wrong-protocol`, ...), and an
// undeliverable notice from the far node naming an address of the route (`unknown-address`).
import { RouteError, SealrouteError } from "../errors.ts";
import type { Address } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import type { Route } from "../routing/route.ts";
import { lostLinkReason, type UndeliverableEvent } from "../routing/undeliverable.ts";

export class InitiatorWatch {
  readonly #node: Node;
  readonly #route: Route;
  #fail: ((error: Error) => void) | undefined;
  #failed: Error | undefined;
  #unwatchHop: (() => void) | undefined;
  #unwatchNotices: (() => void) | undefined;
  #closed = false;

  /** Starts watching the route's first hop if it is local (call before any await). */
  constructor(node: Node, route: Route) {
    this.#node = node;
    this.#route = route;
    const first = route.next;
    if (!first?.isLocal) return;
    if (node.hasWorker(first)) this.#watchHop(first);
    else {
      // The connection closed already (an HTTP server answers the version byte at once).
      const reason = lostLinkReason(node, first);
      if (reason) this.#lost(reason);
    }
  }

  /**
   * From now on failures go to `fail` (one seen before is passed at once); notices for the
   * worker at `waiter` (the initiator's decryptor, the return route of message 1) count.
   */
  start(waiter: Address, fail: (error: Error) => void): void {
    this.#fail = fail;
    this.#unwatchNotices = this.#node.onUndeliverable(waiter, (event) => this.#notice(event));
    if (this.#failed) fail(this.#failed);
  }

  /**
   * The route to send message 1 on: a transport hop (`1#host:port`) is resolved here, so
   * the connection it leads to is watched too.
   */
  async resolve(): Promise<Route> {
    const first = this.#route.next;
    if (!first || first.isLocal) return this.#route;
    const transport = this.#node.transport(first.type);
    if (!transport) return this.#route; // the send reports no-transport
    const hop = await transport.resolve(first);
    if (!this.#closed && !this.#unwatchHop) this.#watchHop(hop);
    return this.#route.popFront().prepend(hop);
  }

  /** Message 2 arrived: notices no longer count (the far end answered). */
  answered(): void {
    this.#unwatchNotices?.();
    this.#unwatchNotices = undefined;
  }

  /** Stops watching (the handshake is over, either way). */
  close(): void {
    this.#closed = true;
    this.answered();
    this.#unwatchHop?.();
    this.#unwatchHop = undefined;
  }

  #watchHop(hop: Address): void {
    this.#unwatchHop = this.#node.onWorkerStopped(hop, (reason) => {
      if (reason) this.#lost(reason);
    });
  }

  #lost(reason: Error): void {
    // A closing node stops the handshake's own worker too (ChannelError `closed`).
    if (reason instanceof RouteError && reason.code === "closed") return;
    this.#report(
      reason instanceof SealrouteError
        ? reason
        : new RouteError("stopped", `the link under the handshake stopped: ${reason.message}`, {
          cause: reason,
        }),
    );
  }

  #notice(event: UndeliverableEvent): void {
    if (event.code !== "unknown-address") return;
    // Only an address this initiator named itself is believed, and quoted as it named it.
    let index = 0;
    for (const hop of this.#route) {
      if (index++ === 0 || !sameOrPrefix(hop, event.address, event.truncated)) continue;
      return this.#report(
        new RouteError("unknown-address", `the far node has no worker '${hop}'`),
      );
    }
    this.#node.logger.debug("undeliverable notice naming no hop of the route, ignored");
  }

  #report(error: Error): void {
    if (this.#closed) return;
    if (this.#fail) this.#fail(error);
    else this.#failed ??= error;
  }
}

function sameOrPrefix(hop: Address, named: Address, truncated: boolean): boolean {
  if (hop.type !== named.type) return false;
  if (!truncated) return hop.equals(named);
  if (named.value.length > hop.value.length) return false;
  for (let i = 0; i < named.value.length; i++) if (hop.value[i] !== named.value[i]) return false;
  return true;
}
