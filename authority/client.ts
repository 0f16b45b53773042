/**
 * The member's side: presenting a ticket, asking for a credential, and (for an enroller)
 * asking for a ticket, over a secure channel to the authority.
 *
 * @module
 */
import type { SecureChannel } from "../channel/mod.ts";
import { AuthorityError } from "../errors.ts";
import {
  type CredentialAndPurposeKey,
  decodeCredential,
  type Identity,
  importIdentity,
  type LocalIdentity,
  trustIdentifiers,
} from "../identity/mod.ts";
import { type Node, Route, type RouteLike } from "../routing/mod.ts";
import { createSecureChannel } from "../channel/mod.ts";
import {
  type ApiError,
  decodeApiError,
  decodeResponse,
  encodeRequest,
  freshId,
  type ResponseHeader,
} from "./api.ts";
import {
  type Attributes,
  decodeOneTimeCode,
  decodeTicket,
  encodeCreateToken,
  encodeOneTimeCode,
  encodeTicket,
  type Ticket,
} from "./messages.ts";
import {
  AUTHORITY_LISTENER,
  CREDENTIAL_ISSUER,
  ENROLLMENT_TOKEN_ACCEPTOR,
  ENROLLMENT_TOKEN_ISSUER,
} from "./service.ts";

/** Options of {@linkcode AuthorityClient}. */
export interface AuthorityClientOptions {
  /** Time to wait for each answer, in ms. Default 10 000. */
  timeout?: number;
}

/**
 * Requests to an authority over an open secure channel to it. Refusals are
 * `AuthorityError`s carrying the authority's code (`ticket-used`, `not-member`, …).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, AuthorityClient, startAuthorityService } from "@sealroute/sealroute/authority";
 * import { createSecureChannel } from "@sealroute/sealroute/channel";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * await using _service = await startAuthorityService(node, authority);
 * const stranger = await createIdentity(new Vault());
 * const channel = await createSecureChannel(node, "api", { identity: stranger });
 * await assert.rejects(new AuthorityClient(channel).requestCredential(stranger), {
 *   name: "AuthorityError",
 *   code: "not-member",
 * });
 * await channel.close();
 * ```
 */
export class AuthorityClient {
  #channel: SecureChannel;
  #timeout: number;

  /** A client over `channel` (its peer must be the authority). */
  constructor(channel: SecureChannel, options: AuthorityClientOptions = {}) {
    this.#channel = channel;
    this.#timeout = options.timeout ?? 10_000;
  }

  /**
   * Presents a ticket (its text form or decoded) to redeem it. A ticket naming another
   * authority than the channel's peer is refused here (`wrong-authority`), before it
   * leaves this process.
   */
  async presentTicket(ticket: string | Ticket): Promise<void> {
    const decoded = typeof ticket === "string" ? decodeTicket(ticket) : ticket;
    const authority = await importIdentity(decoded.authority);
    if (authority.identifier !== this.#channel.remoteIdentifier) {
      throw new AuthorityError(
        "wrong-authority",
        `the ticket is for authority ${authority.identifier}, not ${this.#channel.remoteIdentifier}`,
      );
    }
    await this.#call(ENROLLMENT_TOKEN_ACCEPTOR, "/", encodeOneTimeCode(decoded.code));
  }

  /**
   * Asks for a credential for this member's attributes. With `identity`, its change
   * history goes along (the credential then names its latest change).
   */
  async requestCredential(identity?: LocalIdentity | Identity): Promise<CredentialAndPurposeKey> {
    const body = await this.#call(CREDENTIAL_ISSUER, "/", identity?.changeHistory);
    if (body === undefined) throw new AuthorityError("bad-response", "no credential in the answer");
    return decodeCredential(body);
  }

  /**
   * Asks for a one-time ticket (the channel's identity must be an enroller). `authority`
   * (the authority's identity, as the enroller knows it) goes into the ticket text.
   */
  async createTicket(options: {
    attributes: Attributes;
    ttl?: number;
    authority: Identity;
    address?: string;
  }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const ttl = options.ttl;
    const body = await this.#call(
      ENROLLMENT_TOKEN_ISSUER,
      "/",
      encodeCreateToken({ attributes: options.attributes, ...(ttl ? { ttlSecs: ttl } : {}) }),
    );
    if (body === undefined) throw new AuthorityError("bad-response", "no code in the answer");
    return encodeTicket({
      code: decodeOneTimeCode(body),
      authority: options.authority.changeHistory,
      expiresAt: now + (ttl ?? 600),
      ...(options.address ? { address: options.address } : {}),
    });
  }

  async #call(address: string, path: string, body?: Uint8Array): Promise<Uint8Array | undefined> {
    const id = freshId();
    const reply = await this.#channel.request(
      address,
      encodeRequest({ id, path, method: "POST" }, body),
      { timeout: this.#timeout },
    );
    const { header, body: answer } = decodeResponse(reply.payload);
    if (header.status === 200) return answer;
    throw refusal(header, answer);
  }
}

function refusal(header: ResponseHeader, body: Uint8Array | undefined): AuthorityError {
  let error: ApiError = {};
  try {
    if (body) error = decodeApiError(body);
  } catch { /* an undecodable error body: the status says enough */ }
  const text = error.message ?? `status ${header.status ?? "none"}`;
  // Sealroute authorities put their code first ("ticket-used: …"); Ockam's say it in words.
  const coded = /^([a-z][a-z-]{2,40}): (.*)$/s.exec(text);
  const code = coded ? coded[1]! : header.status === 403 ? "forbidden" : "bad-request";
  return new AuthorityError(
    code,
    `the authority refused: ${(coded ? coded[2]! : text).slice(0, 200)}`,
  );
}

/** Options of {@linkcode enroll}. */
export interface EnrollOptions {
  /** The identity to enroll. */
  identity: LocalIdentity;
  /** The ticket (text form or decoded). */
  ticket: string | Ticket;
  /** The authority's listener. Default `api`, appended to `route`. */
  listener?: string;
  /** Handshake and request timeout in ms. Default 10 000. */
  timeout?: number;
}

/** What {@linkcode enroll} obtained. */
export interface Enrollment {
  /** The authority's verified identity (from the ticket; the channel's peer). */
  authority: Identity;
  /** The member's first credential. */
  credential: CredentialAndPurposeKey;
}

/**
 * Enrolls `identity` once: opens a secure channel through `route` to the authority named
 * in the ticket (any other peer is refused), redeems the ticket and asks for the first
 * credential. The channel is closed afterwards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, enroll, startAuthorityService } from "@sealroute/sealroute/authority";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * await using _service = await startAuthorityService(node, authority);
 * const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
 * const device = await createIdentity(new Vault());
 * const enrolled = await enroll(node, [], { identity: device, ticket });
 * assert.equal(enrolled.authority.identifier, authority.identifier);
 * ```
 */
export async function enroll(
  node: Node,
  route: RouteLike,
  options: EnrollOptions,
): Promise<Enrollment> {
  const ticket = typeof options.ticket === "string" ? decodeTicket(options.ticket) : options.ticket;
  const authority = await importIdentity(ticket.authority);
  const timeout = options.timeout ?? 10_000;
  const channel = await createSecureChannel(
    node,
    routeTo(route, options.listener ?? AUTHORITY_LISTENER),
    { identity: options.identity, trustPolicy: trustIdentifiers(authority.identifier), timeout },
  );
  try {
    const client = new AuthorityClient(channel, { timeout });
    await client.presentTicket(ticket);
    return { authority, credential: await client.requestCredential(options.identity) };
  } finally {
    await channel.close();
  }
}

/**
 * Asks the authority for a fresh credential for `identity` (a member), over a new channel
 * through `route` that must reach `authority`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, fetchCredential, startAuthorityService } from "@sealroute/sealroute/authority";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * await using _service = await startAuthorityService(node, authority);
 * const device = await createIdentity(new Vault());
 * await authority.addMember(device.identifier, { role: "sensor" });
 * const credential = await fetchCredential(node, [], { identity: device, authority: authority.identity.identity });
 * assert(credential.credential.data.length > 0);
 * ```
 */
export async function fetchCredential(
  node: Node,
  route: RouteLike,
  options: { identity: LocalIdentity; authority: Identity; listener?: string; timeout?: number },
): Promise<CredentialAndPurposeKey> {
  const timeout = options.timeout ?? 10_000;
  const channel = await createSecureChannel(
    node,
    routeTo(route, options.listener ?? AUTHORITY_LISTENER),
    {
      identity: options.identity,
      trustPolicy: trustIdentifiers(options.authority.identifier),
      timeout,
    },
  );
  try {
    return await new AuthorityClient(channel, { timeout }).requestCredential(options.identity);
  } finally {
    await channel.close();
  }
}

function routeTo(route: RouteLike, listener: string): Route {
  return Route.from(route).append(listener);
}
