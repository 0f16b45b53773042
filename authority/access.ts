/**
 * Refusing removed members at once: an access hook that asks who is a member (the
 * authority in process, or any lookup a deployment provides) instead of waiting for the
 * member's credential to expire.
 *
 * @module
 */
import { LOCAL_INFO_IDENTIFIER } from "../routing/mod.ts";
import type { AccessHook } from "../routing/node_options.ts";
import { type Clock, systemClock } from "../identity/mod.ts";

/** Options of {@linkcode memberAccessControl}. */
export interface MemberAccessControlOptions {
  /** How long an answer is reused, in seconds. Default 0 (ask for every message). */
  cacheSeconds?: number;
  /** Most answers cached. Default 10 000. */
  maxCached?: number;
  /** The current time in seconds. */
  clock?: Clock;
}

/**
 * An incoming hook admitting only messages from a secure-channel peer that `isMember`
 * says is a member now, for example `(id) => authority.member(id).then(Boolean)`. A
 * lookup that fails refuses the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, memberAccessControl } from "@sealroute/sealroute/authority";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { LOCAL_INFO_IDENTIFIER, RoutedMessage } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * const member = "I" + "ab".repeat(32);
 * await authority.addMember(member, { role: "sensor" });
 * const hook = memberAccessControl((id) => authority.member(id).then(Boolean));
 * const from = new RoutedMessage({ onwardRoute: "w", localInfo: { [LOCAL_INFO_IDENTIFIER]: member } });
 * assert.equal(await hook(from), true);
 * await authority.removeMember(member);
 * assert.equal(await hook(from), false);
 * ```
 */
export function memberAccessControl(
  isMember: (identifier: string) => boolean | Promise<boolean>,
  options: MemberAccessControlOptions = {},
): AccessHook {
  const cache = new Map<string, { member: boolean; until: number }>();
  const ttl = options.cacheSeconds ?? 0;
  const max = options.maxCached ?? 10_000;
  const clock = options.clock ?? systemClock;
  return async (message) => {
    const identifier = message.localInfo[LOCAL_INFO_IDENTIFIER];
    if (typeof identifier !== "string") return false;
    const now = clock();
    const hit = cache.get(identifier);
    if (hit && hit.until > now) return hit.member;
    let member: boolean;
    try {
      member = (await isMember(identifier)) === true;
    } catch {
      return false;
    }
    if (ttl > 0) {
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(identifier, { member, until: now + ttl });
    }
    return member;
  };
}
