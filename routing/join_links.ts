/**
 * Lets two links meet at a forwarding hop.
 *
 * @module
 */
import type { Address } from "./address.ts";
import type { Node } from "./node.ts";

/**
 * Lets the links at two local hops reach each other (Ockam's `Relay::handle_message`): the
 * sender of `previous` may take what arrives on `next`'s flow and the other way round, so
 * replies through a relay (or a fleet's link between relays) pass flow control.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Address, joinLinks, Node } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * const [a, b] = [Address.random(), Address.random()];
 * const flowA = node.flowControls.createFlow();
 * node.flowControls.addProducer(a, flowA);
 * joinLinks(node, a, b);
 * assert(node.flowControls.isConsumer(b, flowA));
 * ```
 */
export function joinLinks(
  node: Node,
  previous: Address | undefined,
  next: Address | undefined,
): void {
  if (!previous || !next) return;
  const flows = node.flowControls;
  const towardsNext = flows.producerFlow(next);
  if (towardsNext) flows.addConsumer(previous, towardsNext);
  const towardsPrevious = flows.producerFlow(previous);
  if (towardsPrevious) flows.addConsumer(next, towardsPrevious);
}
