/**
 * The authority: a member table, enrollment tickets and credential issuance (Ockam's
 * `ockam_api::authenticator`). {@linkcode Authority} is the logic over a
 * {@linkcode MemberStore}; `startAuthorityService` serves it over secure channels.
 *
 * @module
 */
import { toHex } from "../_bytes.ts";
import { AuthorityError } from "../errors.ts";
import {
  type Clock,
  type CredentialAndPurposeKey,
  type Identity,
  isIdentifier,
  issueCredential,
  type LocalIdentity,
  systemClock,
} from "../identity/mod.ts";
import {
  type Attributes,
  checkAttributes,
  encodeTicket,
  newOneTimeCode,
  ONE_TIME_CODE_LENGTH,
} from "./messages.ts";
import { type Member, type MemberStore, MemoryMemberStore } from "./store.ts";

/** Default lifetime of the credentials an authority issues: one hour (refreshed before). */
export const DEFAULT_MEMBER_CREDENTIAL_TTL = 60 * 60;

/** Default lifetime of an enrollment ticket: 10 minutes (Ockam's `MAX_TOKEN_DURATION`). */
export const DEFAULT_TICKET_TTL = 10 * 60;

/** Longest lifetime a ticket may be given: 30 days. */
export const MAX_TICKET_TTL = 30 * 24 * 60 * 60;

/** Ockam's enroller attribute: members with `ockam-role=enroller` may create tickets. */
export const ENROLLER_ATTRIBUTE = "ockam-role";

/** The value of {@linkcode ENROLLER_ATTRIBUTE} that makes a member an enroller. */
export const ENROLLER_VALUE = "enroller";

/** Ockam's `PROJECT_MEMBER_SCHEMA`: the schema of member credentials. */
export const MEMBER_CREDENTIAL_SCHEMA = 1;

/** Options of {@linkcode Authority}. */
export interface AuthorityOptions {
  /** The authority's identity: it signs the credentials. */
  identity: LocalIdentity;
  /** The member table and tickets. Default: a {@linkcode MemoryMemberStore}. */
  store?: MemberStore;
  /** Lifetime of issued credentials, in seconds. Default {@linkcode DEFAULT_MEMBER_CREDENTIAL_TTL}. */
  credentialTtl?: number;
  /** Default ticket lifetime, in seconds. Default {@linkcode DEFAULT_TICKET_TTL}. */
  ticketTtl?: number;
  /**
   * Identifiers trusted to create tickets (Ockam's pre-trusted admins), including tickets
   * for enrollers. The authority's own identifier always is; members holding
   * `ockam-role=enroller` may create tickets for non-enrollers.
   */
  enrollers?: readonly string[];
  /** Added as attribute `trust_context_id` to every credential when set (as Ockam's projects). */
  trustContextId?: string;
  /** The current time in seconds. */
  clock?: Clock;
}

/** What {@linkcode Authority.createTicket} needs. */
export interface CreateTicketOptions {
  /** What the member enrolled with the ticket gets. */
  attributes: Attributes;
  /** Lifetime in seconds (1 to {@linkcode MAX_TICKET_TTL}). Default: the authority's. */
  ttl?: number;
  /** Who asks; must be trusted to enroll. Default: the authority itself. */
  enroller?: string;
  /** Where the authority listens, put into the ticket for the enrolling side. */
  address?: string;
}

/** A created ticket. */
export interface CreatedTicket {
  /** The ticket's text form (hand it to the new member; it is a secret until redeemed). */
  ticket: string;
  /** The one-time code in it. */
  code: Uint8Array;
  /** When it expires, in seconds. */
  expiresAt: number;
}

/**
 * An authority: decides who is a member and signs credentials for members' attributes.
 * Every refusal is an `AuthorityError` with a stable code.
 *
 * @example Enroll a device with a ticket and issue its credential
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authority, decodeTicket } from "@sealroute/sealroute/authority";
 * import { createIdentity, verifyCredential } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * const authority = new Authority({ identity: await createIdentity(new Vault()) });
 * const device = await createIdentity(new Vault());
 * const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
 * await authority.redeem(decodeTicket(ticket).code, device.identifier);
 * const credential = await authority.issueCredential(device.identity);
 * const verified = await verifyCredential(credential, {
 *   authorities: [authority.identity.identity],
 *   subject: device.identifier,
 * });
 * assert.equal(new TextDecoder().decode(verified.attributes.role), "sensor");
 * await assert.rejects(authority.redeem(decodeTicket(ticket).code, device.identifier), {
 *   name: "AuthorityError",
 *   code: "ticket-used",
 * });
 * ```
 */
export class Authority {
  #identity: LocalIdentity;
  #store: MemberStore;
  #credentialTtl: number;
  #ticketTtl: number;
  #enrollers: Set<string>;
  #trustContextId: string | undefined;
  #clock: Clock;

  /** An authority over `options.store`. */
  constructor(options: AuthorityOptions) {
    this.#identity = options.identity;
    this.#store = options.store ?? new MemoryMemberStore();
    this.#credentialTtl = positive(options.credentialTtl ?? DEFAULT_MEMBER_CREDENTIAL_TTL, "ttl");
    this.#ticketTtl = ticketTtl(options.ticketTtl ?? DEFAULT_TICKET_TTL);
    for (const e of options.enrollers ?? []) {
      if (!isIdentifier(e)) throw new TypeError(`not an identifier: '${String(e).slice(0, 70)}'`);
    }
    this.#enrollers = new Set([options.identity.identifier, ...(options.enrollers ?? [])]);
    this.#trustContextId = options.trustContextId;
    this.#clock = options.clock ?? systemClock;
  }

  /** The authority's identity. */
  get identity(): LocalIdentity {
    return this.#identity;
  }

  /** The authority's identifier. */
  get identifier(): string {
    return this.#identity.identifier;
  }

  /** The store. */
  get store(): MemberStore {
    return this.#store;
  }

  /** The lifetime of issued credentials, in seconds. */
  get credentialTtl(): number {
    return this.#credentialTtl;
  }

  /**
   * Creates a one-time enrollment ticket; the store keeps only the code's SHA-256.
   * `not-enroller` when `enroller` may not create (this) ticket.
   */
  async createTicket(options: CreateTicketOptions): Promise<CreatedTicket> {
    checkAttributes(options.attributes);
    const enroller = options.enroller ?? this.identifier;
    await this.#checkEnroller(enroller, options.attributes);
    const ttl = ticketTtl(options.ttl ?? this.#ticketTtl);
    const now = this.#clock();
    const code = newOneTimeCode();
    const expiresAt = now + ttl;
    await this.#store.addTicket({
      hash: await hashCode(code),
      attributes: { ...options.attributes },
      issuedBy: enroller,
      createdAt: now,
      expiresAt,
    });
    const ticket = encodeTicket({
      code,
      authority: this.#identity.changeHistory,
      expiresAt,
      ...(options.address !== undefined ? { address: options.address } : {}),
    });
    return { ticket, code, expiresAt };
  }

  /**
   * Redeems a ticket's code for `identifier` (from its secure channel): the identity becomes
   * a member with the ticket's attributes. `ticket-unknown` (forged, or for another
   * authority), `ticket-used`, `ticket-expired` or `already-member` change nothing.
   */
  async redeem(code: Uint8Array, identifier: string): Promise<Member> {
    if (!(code instanceof Uint8Array) || code.length !== ONE_TIME_CODE_LENGTH) {
      throw new AuthorityError("ticket-unknown", "not a one-time code");
    }
    if (!isIdentifier(identifier)) throw new TypeError("not an identifier");
    const result = await this.#store.redeemTicket({
      hash: await hashCode(code),
      identifier,
      now: this.#clock(),
    });
    if (result.ok) return result.member;
    throw new AuthorityError(result.reason, REFUSALS[result.reason]);
  }

  /**
   * Signs a credential for member `subject`'s attributes (schema 1, lifetime
   * `credentialTtl`); `not-member` for anyone else, including removed members.
   */
  async issueCredential(subject: Identity): Promise<CredentialAndPurposeKey> {
    const member = await this.#store.getMember(subject.identifier);
    if (!member) {
      throw new AuthorityError("not-member", `${subject.identifier} is not a member`);
    }
    const attributes: Record<string, string> = {};
    if (this.#trustContextId !== undefined) attributes.trust_context_id = this.#trustContextId;
    Object.assign(attributes, member.attributes);
    return await issueCredential({
      issuer: this.#identity,
      subject,
      attributes,
      ttl: this.#credentialTtl,
      clock: this.#clock,
      schema: MEMBER_CREDENTIAL_SCHEMA,
    });
  }

  /** Adds (or replaces) a member directly, as an operator does. */
  async addMember(identifier: string, attributes: Attributes, addedBy?: string): Promise<Member> {
    if (!isIdentifier(identifier)) throw new TypeError("not an identifier");
    checkAttributes(attributes);
    const member: Member = {
      identifier,
      attributes: { ...attributes },
      addedBy: addedBy ?? this.identifier,
      addedAt: this.#clock(),
    };
    await this.#store.putMember(member);
    return member;
  }

  /** Removes a member: it gets no new credential (its current one runs out). */
  removeMember(identifier: string): Promise<boolean> {
    return this.#store.removeMember(identifier);
  }

  /** The member `identifier`, if it is one. */
  member(identifier: string): Promise<Member | undefined> {
    return this.#store.getMember(identifier);
  }

  /** Every member. */
  members(): Promise<Member[]> {
    return this.#store.listMembers();
  }

  async #checkEnroller(enroller: string, attributes: Attributes): Promise<void> {
    const forEnroller = attributes[ENROLLER_ATTRIBUTE] === ENROLLER_VALUE;
    if (this.#enrollers.has(enroller)) return;
    const member = await this.#store.getMember(enroller);
    const isEnroller = member?.attributes[ENROLLER_ATTRIBUTE] === ENROLLER_VALUE;
    if (!isEnroller) {
      throw new AuthorityError("not-enroller", `${enroller} may not create tickets`);
    }
    if (forEnroller) {
      throw new AuthorityError(
        "not-enroller",
        `${enroller} may not create tickets for enrollers (only trusted enrollers may)`,
      );
    }
  }
}

const REFUSALS = {
  "ticket-unknown": "the ticket is not one of this authority's (forged, or for another one)",
  "ticket-used": "the ticket was already used",
  "ticket-expired": "the ticket has expired",
  "already-member": "this identity is already a member",
} as const;

/** Lowercase hex SHA-256 of a one-time code: what the store keeps. */
export async function hashCode(code: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", code.slice());
  return toHex(new Uint8Array(digest));
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive whole number of seconds`);
  }
  return value;
}

function ticketTtl(value: number): number {
  positive(value, "ticket ttl");
  if (value > MAX_TICKET_TTL) throw new RangeError(`ticket ttl is at most ${MAX_TICKET_TTL} s`);
  return value;
}
