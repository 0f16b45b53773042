/**
 * An authority service (Ockam's `ockam_api::authenticator`): a member table, one-time
 * enrollment tickets and credentials for members' attributes, issued and refreshed over
 * secure channels.
 *
 * - {@linkcode Authority}: the logic over a {@linkcode MemberStore}
 *   ({@linkcode MemoryMemberStore} here; SQLite in `@sealroute/sealroute/authority/deno`).
 * - {@linkcode startAuthorityService}: a secure channel listener and Ockam's services
 *   `enrollment_token_acceptor`, `credential_issuer`, `enrollment_token_issuer` behind it.
 * - {@linkcode enroll}, {@linkcode fetchCredential}, {@linkcode AuthorityClient}: the
 *   member's side; {@linkcode CredentialRefresher} renews a credential before it expires
 *   and presents it on open channels; {@linkcode memberAccessControl} refuses removed
 *   members at once, for peers that can ask who is a member.
 *
 * Tickets carry 256 random bits; the store keeps only their SHA-256. Refusals are
 * `AuthorityError`s with a stable `code`: `ticket-unknown`, `ticket-used`,
 * `ticket-expired`, `already-member`, `wrong-authority`, `not-member`, `not-enroller`.
 * The message encodings are Ockam's (see `authority/WIRE.md`).
 *
 * @example Enroll over a secure channel, then use the credential in a channel
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, enroll, startAuthorityService } from "@sealroute/sealroute/authority";
 * import { createSecureChannel, createSecureChannelListener } from "@sealroute/sealroute/channel";
 * import { createIdentity, trustCredentials } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * await using _service = await startAuthorityService(node, authority);
 * const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
 *
 * const device = await createIdentity(new Vault());
 * const { credential, authority: trusted } = await enroll(node, [], { identity: device, ticket });
 *
 * const server = await createIdentity(new Vault());
 * await createSecureChannelListener(node, "sensors", {
 *   identity: server,
 *   authorities: [trusted],
 *   trustPolicy: trustCredentials({ authorities: [trusted.identifier], attributes: { role: "sensor" } }),
 * });
 * const channel = await createSecureChannel(node, "sensors", { identity: device, credentials: [credential] });
 * assert.equal(channel.remoteIdentifier, server.identifier);
 * await channel.close();
 * ```
 *
 * @module
 */
export {
  type ApiError,
  decodeApiError,
  decodeRequest,
  decodeResponse,
  encodeApiError,
  encodeRequest,
  encodeResponse,
  type Envelope,
  MAX_ENVELOPE_SIZE,
  type Method,
  METHODS,
  type RequestHeader,
  type ResponseHeader,
  type Status,
  STATUSES,
} from "./api.ts";
export {
  Authority,
  type AuthorityOptions,
  type CreatedTicket,
  type CreateTicketOptions,
  DEFAULT_MEMBER_CREDENTIAL_TTL,
  DEFAULT_TICKET_TTL,
  ENROLLER_ATTRIBUTE,
  ENROLLER_VALUE,
  MAX_TICKET_TTL,
  MEMBER_CREDENTIAL_SCHEMA,
} from "./authority.ts";
export * from "./access.ts";
export * from "./client.ts";
export {
  type Attributes,
  type CreateToken,
  decodeCreateToken,
  decodeOneTimeCode,
  decodeTicket,
  encodeCreateToken,
  encodeOneTimeCode,
  encodeTicket,
  MAX_ATTRIBUTE_LENGTH,
  MAX_ATTRIBUTES,
  ONE_TIME_CODE_LENGTH,
  type Ticket,
} from "./messages.ts";
export * from "./refresher.ts";
export * from "./service.ts";
export * from "./store.ts";
export { AuthorityError, SealrouteError } from "../errors.ts";
