/**
 * The authority's services on a routing node, reachable through its secure channels
 * only, at Ockam's addresses: `enrollment_token_acceptor`, `credential_issuer`,
 * `enrollment_token_issuer` (`ockam_api` `DefaultAddress`).
 *
 * @module
 */
import {
  createSecureChannelListener,
  LOCAL_INFO_CHANNEL,
  type SecureChannelListener,
  type SecureChannelListenerOptions,
} from "../channel/mod.ts";
import { AuthorityError, SealrouteError } from "../errors.ts";
import {
  encodeCredential,
  type Identity,
  importIdentity,
  parseIdentifier,
} from "../identity/mod.ts";
import { type Flow, LOCAL_INFO_IDENTIFIER, type Node, type WorkerContext } from "../routing/mod.ts";
import {
  decodeRequest,
  encodeApiError,
  encodeResponse,
  freshId,
  type RequestHeader,
  type Status,
} from "./api.ts";
import type { Authority } from "./authority.ts";
import { decodeCreateToken, decodeOneTimeCode, encodeOneTimeCode } from "./messages.ts";

/** Ockam's address of the enrollment-token acceptor (redeems tickets). */
export const ENROLLMENT_TOKEN_ACCEPTOR = "enrollment_token_acceptor";
/** Ockam's address of the credential issuer. */
export const CREDENTIAL_ISSUER = "credential_issuer";
/** Ockam's address of the enrollment-token issuer (creates tickets for enrollers). */
export const ENROLLMENT_TOKEN_ISSUER = "enrollment_token_issuer";
/** Ockam's address of a node's secure channel listener. */
export const AUTHORITY_LISTENER = "api";

/** Options of {@linkcode startAuthorityService}. */
export interface AuthorityServiceOptions
  extends Omit<SecureChannelListenerOptions, "identity" | "consumes"> {
  /** Flows the channel handshakes arrive on (a TCP listener's `flow`). */
  consumes?: readonly Flow[];
  /** The listener's address. Default {@linkcode AUTHORITY_LISTENER} (`api`). */
  listenerAddress?: string;
}

/** The running services; see {@linkcode startAuthorityService}. */
export interface AuthorityService extends AsyncDisposable {
  /** The secure channel listener members reach the services through. */
  readonly listener: SecureChannelListener;
  /** Stops the services and the listener (open channels stay open). */
  close(): Promise<void>;
}

/**
 * Serves `authority` on `node`: a secure channel listener (default `api`) and the three
 * services behind it, which answer only messages that came through one of that
 * listener's channels (others get Ockam's 400 "secure channel required"). The subject
 * of every request is the channel's authenticated peer.
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
 * const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
 * const device = await createIdentity(new Vault());
 * const channel = await createSecureChannel(node, "api", { identity: device });
 * const client = new AuthorityClient(channel);
 * await client.presentTicket(ticket);
 * const credential = await client.requestCredential(device);
 * assert.equal(credential.purposeKeyAttestation.data.length > 0, true);
 * await channel.close();
 * ```
 */
export async function startAuthorityService(
  node: Node,
  authority: Authority,
  options: AuthorityServiceOptions = {},
): Promise<AuthorityService> {
  const { consumes, listenerAddress, ...channelOptions } = options;
  const listener = await createSecureChannelListener(node, listenerAddress ?? AUTHORITY_LISTENER, {
    ...channelOptions,
    identity: authority.identity,
    ...(consumes ? { consumes } : {}),
  });
  const peerOf = (ctx: WorkerContext): string | undefined => {
    const channel = ctx.message.localInfo[LOCAL_INFO_CHANNEL];
    const identifier = ctx.message.localInfo[LOCAL_INFO_IDENTIFIER];
    if (typeof identifier !== "string") return undefined;
    for (const c of listener.channels) if (c.address.toString() === channel) return identifier;
    return undefined;
  };
  const serve = (address: string, paths: readonly string[], handle: Handler) =>
    node.startWorker(address, async (ctx) => {
      const reply = await answer(ctx, peerOf(ctx), paths, handle);
      await ctx.reply(reply).catch((error) => {
        node.logger.debug(`${address}: reply not delivered`, { error });
      });
    }, { consumes: [listener.flow] });
  const log = (message: string, fields: Record<string, unknown>) =>
    node.logger.info(message, fields);

  serve(ENROLLMENT_TOKEN_ACCEPTOR, ["/", "/credential"], async (from, _header, body) => {
    const code = decodeOneTimeCode(required(body));
    const member = await authority.redeem(code, from);
    log("authority enrolled a member", { identifier: from, addedBy: member.addedBy });
    return undefined;
  });
  serve(CREDENTIAL_ISSUER, ["/", "/credential"], async (from, _header, body) => {
    const subject = await subjectOf(from, body);
    const credential = await authority.issueCredential(subject);
    log("authority issued a credential", { identifier: from });
    return encodeCredential(credential);
  });
  serve(ENROLLMENT_TOKEN_ISSUER, ["/", "/tokens"], async (from, _header, body) => {
    const request = decodeCreateToken(required(body));
    if (request.ttlCount !== undefined && request.ttlCount !== 1) {
      throw new AuthorityError("bad-request", "tickets are single-use (ttl_count 1)");
    }
    const created = await authority.createTicket({
      attributes: request.attributes,
      enroller: from,
      ...(request.ttlSecs !== undefined ? { ttl: request.ttlSecs } : {}),
    });
    log("authority created a ticket", { enroller: from });
    return encodeOneTimeCode(created.code);
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const a of [ENROLLMENT_TOKEN_ACCEPTOR, CREDENTIAL_ISSUER, ENROLLMENT_TOKEN_ISSUER]) {
        await node.stopWorker(a);
      }
      await listener.close();
    })();
    return closing;
  };
  return { listener, close, [Symbol.asyncDispose]: close };
}

type Handler = (
  from: string,
  header: RequestHeader,
  body: Uint8Array | undefined,
) => Promise<Uint8Array | undefined>;

// One request → one response; every failure is an Ockam status with an `api::Error`.
async function answer(
  ctx: WorkerContext,
  from: string | undefined,
  paths: readonly string[],
  handle: Handler,
): Promise<Uint8Array> {
  if (from === undefined) return failure(0, 400, { message: "secure channel required" });
  let header: RequestHeader;
  let body: Uint8Array | undefined;
  try {
    ({ header, body } = decodeRequest(ctx.message.payload));
  } catch (error) {
    return failure(0, 400, { message: `bad request: ${messageOf(error)}` });
  }
  const where = { path: header.path, ...(header.method ? { method: header.method } : {}) };
  if (header.method !== "POST" || !paths.includes(header.path)) {
    return failure(header.id, 400, { ...where, message: "unknown path" });
  }
  try {
    const result = await handle(from, header, body);
    return encodeResponse({ id: freshId(), re: header.id, status: 200 }, result);
  } catch (error) {
    if (error instanceof AuthorityError) {
      const status: Status = error.code === "bad-request" ? 400 : 403;
      return failure(header.id, status, { ...where, message: `${error.code}: ${error.message}` });
    }
    if (error instanceof SealrouteError) {
      return failure(header.id, 400, { ...where, message: `${error.code}: ${error.message}` });
    }
    return failure(header.id, 500, { ...where, message: "internal error" });
  }
}

function failure(
  re: number,
  status: Status,
  error: Parameters<typeof encodeApiError>[0],
): Uint8Array {
  return encodeResponse({ id: freshId(), re, status }, encodeApiError(error));
}

function required(body: Uint8Array | undefined): Uint8Array {
  if (body === undefined) throw new AuthorityError("bad-request", "the request needs a body");
  return body;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : "malformed";
}

// The subject of a credential: the change history the member sent (a Sealroute addition;
// it must be the channel peer's), else what the identifier alone tells (an identity that
// never rotated: its latest change is its first, whose hash is the identifier).
async function subjectOf(from: string, body: Uint8Array | undefined): Promise<Identity> {
  if (body !== undefined) return await importIdentity(body, { expectedIdentifier: from });
  const subject = { identifier: from, latestChangeHash: parseIdentifier(from) };
  // issueCredential reads exactly these two fields of the subject.
  return subject as unknown as Identity;
}
