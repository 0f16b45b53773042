/**
 * The flow-control options every connection takes, and the one place that applies them.
 *
 * @module
 */
import type { Address, Flow, Node } from "../routing/mod.ts";
import { registerLinkFlow } from "../routing/undeliverable.ts";

/**
 * How a connection joins flow control: messages read from it arrive on a flow of its own
 * (spawned from a listener's flow when a listener accepted it) and reach only consumers of
 * that flow; its sender worker may consume other flows, so that what arrives on them may be
 * forwarded out through it.
 */
export interface LinkFlowOptions {
  /** The listener flow this connection's flow is spawned from (set by listeners). */
  spawner?: Flow;
  /**
   * Whether the peer may name non-local next hops (`1#host:port`) and so make this node
   * dial out on its behalf. Default `false`: such messages are refused (no open proxy).
   */
  allowRemoteDial?: boolean;
  /**
   * Flows whose messages may be forwarded out through this connection (its sender worker
   * consumes them), e.g. a listener's flow on a node that bridges two links. Default: none.
   */
  consumes?: readonly Flow[];
  /**
   * The address pushed on the return route of what is read, instead of the connection's own
   * sender: a reconnecting link's stable address, so replies outlive one connection.
   */
  replyAddress?: Address;
}

/**
 * Creates a connection's flow, makes `sender` its producer address and a consumer of
 * `options.consumes`, and returns the flow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Address, Node } from "@sealroute/sealroute/routing";
 * import { linkFlow } from "@sealroute/sealroute/transport";
 *
 * await using node = new Node();
 * const sender = Address.random();
 * const flow = linkFlow(node, sender, { label: "peer" });
 * assert(node.flowControls.producerFlow(sender) === flow);
 * ```
 */
export function linkFlow(
  node: Node,
  sender: Address,
  options: LinkFlowOptions & { label: string },
): Flow {
  const flow = node.flowControls.createFlow({
    label: options.label,
    ...(options.spawner ? { spawner: options.spawner } : {}),
    ...(options.allowRemoteDial !== undefined ? { allowRemoteDial: options.allowRemoteDial } : {}),
  });
  node.flowControls.addProducer(sender, flow);
  for (const consumed of options.consumes ?? []) node.flowControls.addConsumer(sender, consumed);
  // Undeliverable notices (a Sealroute extension) arrive on connections' flows only.
  registerLinkFlow(node, sender, flow);
  return flow;
}
