import { Address, type AddressLike } from "./address.ts";
import type { Node } from "./node.ts";
import type { WorkerOptions } from "./node_options.ts";

/** Ockam's echo service address (`DefaultAddress::ECHO_SERVICE`). */
export const ECHO_SERVICE = "echo";

/** Options for {@linkcode startEcho}. */
export interface EchoOptions extends WorkerOptions {
  /** The worker's address. Default {@linkcode ECHO_SERVICE}. */
  address?: AddressLike;
}

/**
 * Starts an echo worker: it sends each payload back to the message's return route, with
 * return route `[address]`, as Ockam's `echo` service does. Returns the worker address.
 *
 * Like every worker it hears from connections and channels only through the flows it
 * consumes (`consumes: [listener.flow]`). A reply whose next hop is full is dropped and
 * logged rather than awaited, so one peer that never reads cannot stall the service for
 * the others.
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
export function startEcho(node: Node, options: AddressLike | EchoOptions = {}): Address {
  const { address = ECHO_SERVICE, ...workerOptions } = typeof options === "object" &&
      !(options instanceof Address)
    ? options
    : { address: options };
  const self = Address.from(address);
  return node.startWorker(self, async (ctx) => {
    const message = ctx.message;
    if (message.returnRoute.isEmpty) {
      node.logger.debug("echo: no return route, dropping", { worker: self.toString() });
      return;
    }
    try {
      await ctx.send(message.returnRoute, message.payload);
    } catch (error) {
      node.logger.warn("echo: reply not delivered", { worker: self.toString(), error });
    }
  }, workerOptions);
}
