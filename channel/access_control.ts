/**
 * The glue between identity policies and routing's access-control hooks: a channel's
 * decryptor puts the authenticated peer in each message's local info, and these hooks
 * read it back, so a worker can say "only peers with role=operator".
 *
 * @module
 */
import {
  type AttributePolicy,
  evaluateAbacPolicy,
  evaluateAttributePolicy,
  evaluateTrustPolicy,
  type Expr,
  type TrustPolicy,
} from "../identity/mod.ts";
import type { AccessHook } from "../routing/node_options.ts";
import { LOCAL_INFO_IDENTIFIER, type LocalInfo } from "../routing/routed_message.ts";
import { type ChannelPeer, LOCAL_INFO_ATTRIBUTES } from "./secure_channel_options.ts";

/**
 * The authenticated peer a message came from through a secure channel, or `undefined`
 * for a message that did not come through one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerOf } from "@sealroute/sealroute/channel";
 * assert.equal(peerOf({}), undefined);
 * ```
 */
export function peerOf(localInfo: LocalInfo): ChannelPeer | undefined {
  const identifier = localInfo[LOCAL_INFO_IDENTIFIER];
  if (typeof identifier !== "string") return undefined;
  const attributes = localInfo[LOCAL_INFO_ATTRIBUTES];
  return {
    identifier,
    attributes: typeof attributes === "object" && attributes !== null
      ? attributes as Record<string, Uint8Array>
      : {},
  };
}

/**
 * An incoming hook admitting only messages from an authenticated peer that `check` accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { peerAccessControl } from "@sealroute/sealroute/channel";
 * import { RoutedMessage } from "@sealroute/sealroute/routing";
 * const hook = peerAccessControl((peer) => peer.identifier.startsWith("I"));
 * assert.equal(await hook(new RoutedMessage({ onwardRoute: "w" })), false);
 * ```
 */
export function peerAccessControl(check: (peer: ChannelPeer) => boolean): AccessHook {
  return (message) => {
    const peer = peerOf(message.localInfo);
    return peer !== undefined && check(peer);
  };
}

/**
 * An incoming hook evaluating an ABAC policy (Ockam's expression text, an `Expr`, or an
 * {@linkcode AttributePolicy}) against the peer's identifier and attributes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abacAccessControl, LOCAL_INFO_ATTRIBUTES } from "@sealroute/sealroute/channel";
 * import { LOCAL_INFO_IDENTIFIER, RoutedMessage } from "@sealroute/sealroute/routing";
 * const hook = abacAccessControl('(= subject.role "operator")');
 * const from = (role: string) =>
 *   new RoutedMessage({
 *     onwardRoute: "w",
 *     localInfo: {
 *       [LOCAL_INFO_IDENTIFIER]: "I" + "00".repeat(32),
 *       [LOCAL_INFO_ATTRIBUTES]: { role: new TextEncoder().encode(role) },
 *     },
 *   });
 * assert.equal(await hook(from("operator")), true);
 * assert.equal(await hook(from("viewer")), false);
 * ```
 */
export function abacAccessControl(policy: string | Expr | AttributePolicy): AccessHook {
  return peerAccessControl((peer) =>
    typeof policy === "string" || isExpr(policy)
      ? evaluateAbacPolicy(policy, peer)
      : evaluateAttributePolicy(policy, peer)
  );
}

/**
 * An incoming hook evaluating a {@linkcode TrustPolicy} against the peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustPolicyAccessControl } from "@sealroute/sealroute/channel";
 * import { trustEveryone } from "@sealroute/sealroute/identity";
 * import { RoutedMessage } from "@sealroute/sealroute/routing";
 * const hook = trustPolicyAccessControl(trustEveryone());
 * assert.equal(await hook(new RoutedMessage({ onwardRoute: "w" })), false); // no channel, no peer
 * ```
 */
export function trustPolicyAccessControl(policy: TrustPolicy): AccessHook {
  return peerAccessControl((peer) => evaluateTrustPolicy(policy, peer));
}

function isExpr(value: Expr | AttributePolicy): value is Expr {
  return "type" in value;
}
