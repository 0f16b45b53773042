import { Address, type AddressLike } from "./address.ts";
import type { Node } from "./node.ts";
import type { WorkerOptions } from "./node_options.ts";
import { RoutedMessage } from "./routed_message.ts";

/** Ockam's echo service address (`DefaultAddress::ECHO_SERVICE`). */
export const ECHO_SERVICE = "echo";

/**
 * Starts an echo worker: it sends each payload back to the message's return route, with
 * return route `[address]`, as Ockam's `echo` service does. Replies wait for mailbox room
 * rather than being dropped. Returns the worker address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * startEcho(node, "echoer");
 * const reply = await node.request("echoer", new Uint8Array([1, 2]), { timeout: 1000 });
 * assert(reply.payload.join() === "1,2" && reply.returnRoute.toString() === "echoer");
 * ```
 */
export function startEcho(
  node: Node,
  address: AddressLike = ECHO_SERVICE,
  options: WorkerOptions = {},
): Address {
  const self = Address.from(address);
  return node.startWorker(self, async (ctx) => {
    const message = ctx.message;
    if (message.returnRoute.isEmpty) {
      node.logger.debug("echo: no return route, dropping", { worker: self.toString() });
      return;
    }
    try {
      await ctx.forward(
        new RoutedMessage({
          onwardRoute: message.returnRoute,
          returnRoute: [self],
          payload: message.payload,
        }),
      );
    } catch (error) {
      node.logger.warn("echo: reply not delivered", { worker: self.toString(), error });
    }
  }, options);
}
