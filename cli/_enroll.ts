/**
 * `sealroute enroll`: enrolls a role's identity with an authority once, using a ticket,
 * and stores the credential (and the authority's identity) in the role's state directory.
 *
 * ```sh
 * sealroute enroll --ticket T [--authority HOST:PORT] [--role device] [--state DIR]
 * ```
 *
 * The credential is kept in `DIR/credential.json` (written through a temporary file and a
 * rename): `{version, authority, address, credential, expiresAt}` with the authority's
 * change history and the credential in hex. A role program loads it with
 * {@linkcode loadStoredCredential} and renews it with {@linkcode refreshStoredCredential}.
 *
 * @module
 */
import { decodeTicket, enroll, fetchCredential } from "../authority/mod.ts";
import { fromHex, toHex } from "../_bytes.ts";
import {
  type CredentialAndPurposeKey,
  credentialToHex,
  decodeCredential,
  decodeCredentialData,
  type Identity,
  importIdentity,
  type LocalIdentity,
} from "../identity/mod.ts";
import { Node } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { CliError, intFlag, parseFlags, stateIdentity } from "./_roles_common.ts";
import { defaultStateDir, roleFlag } from "./_state.ts";
import { Output } from "./_output.ts";
import { writeAtomically } from "./_authority.ts";

/** A credential kept in a state directory by `sealroute enroll`. */
export interface StoredCredential {
  /** The authority's verified identity (pass it as a channel's `authorities`). */
  authority: Identity;
  /** Where the authority listens (`host:port`). */
  address: string;
  /** The credential (pass it as a channel's `credentials`). */
  credential: CredentialAndPurposeKey;
  /** When it expires, in seconds. */
  expiresAt: number;
}

/** The file `sealroute enroll` writes in a state directory. */
export function credentialFile(stateDir: string): string {
  return `${stateDir}/credential.json`;
}

/**
 * The credential `sealroute enroll` stored in `stateDir`, or `undefined` when there is
 * none. A damaged file is a `CliError` `corrupt-state`. It may have expired: compare
 * `expiresAt` with the time, and renew it with {@linkcode refreshStoredCredential}.
 */
export async function loadStoredCredential(
  stateDir: string,
): Promise<StoredCredential | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(credentialFile(stateDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    if (json.version !== 1) throw new TypeError(`version ${String(json.version)}`);
    const credential = decodeCredential(String(json.credential));
    return {
      authority: await importIdentity(fromHex(String(json.authority))),
      address: String(json.address),
      credential,
      expiresAt: decodeCredentialData(credential.credential.data).expiresAt,
    };
  } catch (error) {
    throw new CliError(
      "corrupt-state",
      `cannot read ${credentialFile(stateDir)} (${(error as Error).message.slice(0, 80)}); ` +
        `enroll again or delete that file`,
    );
  }
}

/** Writes `stored` to `stateDir` atomically. */
export async function saveStoredCredential(
  stateDir: string,
  stored: Omit<StoredCredential, "expiresAt">,
): Promise<void> {
  const json = {
    version: 1,
    authority: toHex(stored.authority.changeHistory),
    address: stored.address,
    credential: credentialToHex(stored.credential),
    expiresAt: decodeCredentialData(stored.credential.credential.data).expiresAt,
  };
  await writeAtomically(credentialFile(stateDir), `${JSON.stringify(json, null, 2)}\n`);
}

/**
 * Asks the stored authority for a fresh credential for `identity` over TCP, stores it and
 * returns it. Use it as a `CredentialRefresher`'s `fetch`. A removed member gets
 * `AuthorityError` `not-member`.
 */
export async function refreshStoredCredential(
  stateDir: string,
  identity: LocalIdentity,
  options: { timeout?: number; address?: string } = {},
): Promise<CredentialAndPurposeKey> {
  const stored = await loadStoredCredential(stateDir);
  if (!stored) {
    throw new CliError("not-enrolled", `${stateDir} holds no credential; run sealroute enroll`);
  }
  await using node = new Node();
  const address = options.address ?? stored.address;
  const link = await connectTcp(node, address);
  const credential = await fetchCredential(node, link.route, {
    identity,
    authority: stored.authority,
    ...(options.timeout ? { timeout: options.timeout } : {}),
  });
  await saveStoredCredential(stateDir, { ...stored, address, credential });
  return credential;
}

/** What {@linkcode enrollIdentity} needs. */
export interface EnrollIdentityOptions {
  /** The role's state directory (the credential goes to `credential.json` there). */
  stateDir: string;
  /** The role's identity (already open, e.g. the device's). */
  identity: LocalIdentity;
  /** The ticket's text form. */
  ticket: string;
  /** The authority's `host:port`. Default: the ticket's address. */
  address?: string;
  /** Handshake and request timeout in ms. Default 10 000. */
  timeout?: number;
}

/**
 * Enrolls `identity` with the ticket's authority, once: when `stateDir` already holds a
 * credential from that authority it is returned as it is (`enrolled: false`); otherwise
 * the ticket is redeemed over TCP and the first credential stored. Usage problems (a
 * malformed or expired ticket, no address) are `CliError`s; refusals `AuthorityError`s.
 */
export async function enrollIdentity(
  options: EnrollIdentityOptions,
): Promise<StoredCredential & { enrolled: boolean }> {
  let ticket;
  try {
    ticket = decodeTicket(options.ticket);
  } catch (error) {
    throw new CliError("usage", `--ticket: ${(error as Error).message}`);
  }
  const address = options.address ?? ticket.address;
  if (!address) throw new CliError("usage", "--authority HOST:PORT is required");
  const authority = await importIdentity(ticket.authority);
  const existing = await loadStoredCredential(options.stateDir);
  if (existing && existing.authority.identifier === authority.identifier) {
    return { ...existing, enrolled: false };
  }
  if (ticket.expiresAt <= Math.floor(Date.now() / 1000)) {
    throw new CliError("ticket-expired", "the ticket has expired; ask for a new one");
  }
  await using node = new Node();
  const link = await connectTcp(node, address).catch((error) => {
    throw new CliError("connect-failed", `cannot reach the authority at ${address}`, {
      cause: error,
    });
  });
  const enrolled = await enroll(node, link.route, {
    identity: options.identity,
    ticket,
    timeout: options.timeout ?? 10_000,
  });
  const stored = { authority: enrolled.authority, address, credential: enrolled.credential };
  await saveStoredCredential(options.stateDir, stored);
  const expiresAt = decodeCredentialData(enrolled.credential.credential.data).expiresAt;
  return { ...stored, expiresAt, enrolled: true };
}

/** `sealroute enroll …`. */
export async function enrollCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, {
    string: ["ticket", "authority", "role", "state", "timeout"],
    boolean: ["json", "verbose"],
  });
  const out = new Output({ json: flags.boolean.json ?? false });
  const role = roleFlag(flags.string.role ?? "device");
  if (flags.string.ticket === undefined) {
    throw new CliError("usage", "--ticket is required (from: sealroute authority ticket)");
  }
  const timeout = intFlag(flags, "timeout", 10_000);
  const stateDir = flags.string.state ?? defaultStateDir(role);
  const identity = await stateIdentity(stateDir, role);
  const result = await enrollIdentity({
    stateDir,
    identity,
    ticket: flags.string.ticket,
    timeout,
    ...(flags.string.authority ? { address: flags.string.authority } : {}),
  });
  const data = decodeCredentialData(result.credential.credential.data);
  const attributes = Object.entries(data.attributes)
    .map(([k, v]) => `${k}=${new TextDecoder().decode(v)}`).join(",");
  out.event(result.enrolled ? "enrolled" : "already enrolled", {
    identifier: identity.identifier,
    authority: result.authority.identifier,
    attributes,
    expires: new Date(result.expiresAt * 1000).toISOString(),
  });
}
