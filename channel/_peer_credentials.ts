// Internal: what a channel knows of its peer as time passes. Attributes hold only while the
// credential that carried them is valid: past its expiry they are dropped, and a channel whose
// trust policy needed them closes (a removed member's channel ends once its last credential
// expires, unless it refreshed them in time).
import { evaluateTrustPolicy, type TrustPolicy, type VerifiedCredential } from "../identity/mod.ts";
import type { ChannelPeer } from "./secure_channel_options.ts";

/** The peer with the attributes of `credentials`. */
export function peerWith(
  identifier: string,
  credentials: readonly VerifiedCredential[],
): ChannelPeer {
  const attributes = Object.fromEntries(credentials.flatMap((c) => Object.entries(c.attributes)));
  return credentials.length ? { identifier, attributes, credentials } : { identifier, attributes };
}

/** When the first of the peer's credentials expires (seconds), or `Infinity`. */
export function firstExpiry(peer: ChannelPeer): number {
  let first = Number.POSITIVE_INFINITY;
  for (const c of peer.credentials ?? []) first = Math.min(first, c.expiresAt);
  return first;
}

/**
 * The peer at `now` (seconds): credentials past their expiry dropped with their attributes,
 * and whether the trust policy still holds for it (`undefined` policy: it does).
 */
export function peerAt(
  peer: ChannelPeer,
  now: number,
  policy: TrustPolicy | undefined,
): { peer: ChannelPeer; trusted: boolean } {
  const valid = (peer.credentials ?? []).filter((c) => c.expiresAt > now);
  const next = peerWith(peer.identifier, valid);
  const trusted = !policy ||
    evaluateTrustPolicy(policy, {
      identifier: next.identifier,
      attributes: next.attributes,
      credentials: valid,
    });
  return { peer: next, trusted };
}
