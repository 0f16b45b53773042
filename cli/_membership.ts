// A role's membership at an authority (issue 18): `--enroll TICKET` enrolls the role's
// identity once (its credential stored in the state directory), a stored credential is used
// on every later start, and a refresher renews it before it expires; every channel given it as
// its credential source sends the renewal to its peer by itself.
// Members trust credentials from that authority: by default they accept only its members.
import { CredentialRefresher } from "../authority/mod.ts";
import type { CredentialSource } from "../channel/mod.ts";
import {
  type Identity,
  type LocalIdentity,
  trustCredentials,
  type TrustPolicy,
} from "../identity/mod.ts";
import { enrollIdentity, loadStoredCredential, refreshStoredCredential } from "./_enroll.ts";
import type { Output } from "./_output.ts";
import type { Flags } from "./_roles_common.ts";

/** What a member presents and trusts. */
export interface Membership extends Disposable {
  /** The authority whose credentials are checked (a channel's `authorities`). */
  readonly authority: Identity;
  /** The current credential and its renewals (a channel's `credentialSource`). */
  readonly source: CredentialSource;
  /** Trusts peers with a credential from the same authority. */
  readonly trustPolicy: TrustPolicy;
}

/**
 * The membership of `identity` from `--enroll TICKET` (and `--authority HOST:PORT`) or from a
 * credential stored in `stateDir`; `undefined` when there is neither.
 */
export async function membership(
  flags: Flags,
  at: { stateDir: string; identity: LocalIdentity; out: Output; role: string },
): Promise<Membership | undefined> {
  const ticket = flags.string.enroll;
  const stored = ticket
    ? await enrollIdentity({
      stateDir: at.stateDir,
      identity: at.identity,
      ticket,
      ...(flags.string.authority ? { address: flags.string.authority } : {}),
    })
    : await loadStoredCredential(at.stateDir);
  if (!stored) return undefined;
  if ("enrolled" in stored && stored.enrolled) {
    at.out.event(`${at.role} enrolled`, { authority: stored.authority.identifier });
  }
  const refresher = new CredentialRefresher({
    initial: stored.credential,
    fetch: () => refreshStoredCredential(at.stateDir, at.identity),
    onError: (error) =>
      at.out.warn(at.role, `could not renew the credential (${(error as Error).message})`),
  });
  refresher.start();
  return {
    authority: stored.authority,
    source: refresher,
    trustPolicy: trustCredentials({ authorities: [stored.authority.identifier] }),
    [Symbol.dispose]: () => refresher.stop(),
  };
}
