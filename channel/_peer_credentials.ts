// Internal: what a channel knows of its peer as time passes. Attributes hold only while the
// credential that carried them is valid: past its expiry they are dropped, and a channel whose
// trust policy needed them closes (a removed member's channel ends once its last credential
// expires, unless it refreshed them in time).
import {
  decodeRefreshCredentials,
  evaluateTrustPolicy,
  type Identity,
  importIdentity,
  type PeerLimits,
  systemClock,
  type TrustPolicy,
  type VerifiedCredential,
  verifyRefreshCredentials,
} from "../identity/mod.ts";
import type { ChannelPeer, SecureChannelOptions } from "./secure_channel_options.ts";

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

/**
 * What an open channel knows of its peer as time passes: its identifier, the attributes of its
 * valid credentials, its verified identity (so a refresh with an unchanged history is not
 * verified again).
 */
export class PeerState {
  #peer: ChannelPeer;
  #identity: Identity | undefined;
  #expiry: number;
  readonly #options: SecureChannelOptions;
  readonly #limits: PeerLimits;

  /** `limits`: the bounds on what a refresh may carry (the handshake's). */
  constructor(
    peer: ChannelPeer,
    identity: Identity | undefined,
    options: { channel: SecureChannelOptions; limits: PeerLimits },
  ) {
    this.#peer = peer;
    this.#identity = identity;
    this.#expiry = firstExpiry(peer);
    this.#options = options.channel;
    this.#limits = options.limits;
  }

  /** The peer as last verified (call {@linkcode PeerState.expire} first for "now"). */
  get peer(): ChannelPeer {
    return this.#peer;
  }

  /**
   * Drops the credentials that expired (with their attributes); `dropped` says whether any
   * did, `trusted` whether the trust policy still holds.
   */
  expire(): { dropped: boolean; trusted: boolean } {
    if (this.#expiry === Number.POSITIVE_INFINITY) return { dropped: false, trusted: true };
    const now = (this.#options.clock ?? systemClock)();
    if (now < this.#expiry) return { dropped: false, trusted: true };
    const { peer, trusted } = peerAt(this.#peer, now, this.#options.trustPolicy);
    this.#peer = peer;
    this.#expiry = firstExpiry(peer);
    return { dropped: true, trusted };
  }

  /**
   * Verifies a RefreshCredentials body as the handshake verifies (Ockam), with the channel's
   * peer as the expected identity: bounded (history length, credential count and size), cheap
   * checks first, an unchanged history not verified again. Its credentials replace the old
   * ones when the channel checks credentials (`authorities`). Throws on refusal.
   */
  async refresh(body: Uint8Array): Promise<void> {
    const limits = this.#limits;
    const refresh = decodeRefreshCredentials(body);
    const known = this.#identity ?? await importIdentity(refresh.changeHistory, {
      ...(limits.maxChanges !== undefined ? { maxChanges: limits.maxChanges } : {}),
      expectedIdentifier: this.#peer.identifier,
    });
    const verified = await verifyRefreshCredentials(refresh, {
      ...limits,
      peer: known,
      ...(this.#options.authorities ? { authorities: this.#options.authorities } : {}),
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
    });
    this.#identity = verified.identity;
    if (!this.#options.authorities) return;
    this.#peer = peerWith(verified.identity.identifier, verified.credentials);
    this.#expiry = firstExpiry(this.#peer);
  }
}
