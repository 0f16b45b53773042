/**
 * Reliable delivery over an open secure channel, in one call.
 *
 * @module
 */
import { DeliveryError } from "../errors.ts";
import type { Address } from "../routing/address.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { Node } from "../routing/node.ts";
import type { RouteLike } from "../routing/route.ts";
import { Route } from "../routing/route.ts";
import type { DeliverySenderOptions } from "./options.ts";
import { createDeliverySender, type DeliverySender } from "./sender.ts";

/** What {@linkcode reliable} needs of a channel (a `SecureChannel` has it). */
export interface ChannelLike {
  /** The local address plaintext is routed through. */
  readonly address: Address;
  /** The flow messages from the peer arrive on. */
  readonly flow: Flow;
  /** Resolves when the channel closes. */
  readonly closed: Promise<unknown>;
}

/** Options of {@linkcode reliable}: a sender's, with `to` instead of `route`. */
export interface ReliableOptions extends Omit<DeliverySenderOptions, "route"> {
  /** The receiver's route on the peer's node (e.g. `"inbox"`). */
  to: RouteLike;
}

/**
 * Opens a delivery sender through `channel` to a receiver at `options.to` on the peer's
 * node. Acknowledgements come back through the channel; when the channel closes, whatever
 * is still undelivered fails with `DeliveryError` `channel-closed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSecureChannel, createSecureChannelListener } from "@sealroute/sealroute/channel";
 * import { reliable, startDeliveryReceiver } from "@sealroute/sealroute/delivery";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const listener = await createSecureChannelListener(node, "api", {
 *   identity: await createIdentity(new Vault()),
 * });
 * const got: string[] = [];
 * startDeliveryReceiver(node, "inbox", {
 *   consumes: [listener.flow],
 *   onMessage: (m) => void got.push(new TextDecoder().decode(m.payload)),
 * });
 * const channel = await createSecureChannel(node, "api", { identity: await createIdentity(new Vault()) });
 * const sender = reliable(node, channel, { to: "inbox" });
 * await sender.send(new TextEncoder().encode("once"));
 * assert.deepEqual(got, ["once"]);
 * await sender.close();
 * await channel.close();
 * ```
 */
export function reliable(
  node: Node,
  channel: ChannelLike,
  options: ReliableOptions,
): DeliverySender {
  const { to, ...rest } = options;
  const sender = createDeliverySender(node, {
    ...rest,
    route: Route.from(channel.address, to),
    consumes: rest.consumes ?? [channel.flow],
  });
  channel.closed.then((reason) => {
    sender.fail(
      new DeliveryError("channel-closed", "the secure channel closed", { cause: reason }),
    );
  }, () => {});
  return sender;
}
