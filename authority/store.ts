/**
 * Where an authority keeps its members and enrollment tickets: the {@linkcode MemberStore}
 * interface, and an in-memory implementation for tests and browsers. The durable one
 * (SQLite) is `SqliteMemberStore` in `@sealroute/sealroute/authority/deno`.
 *
 * @module
 */
import type { Attributes } from "./messages.ts";

/** One member of an authority (Ockam's `AuthorityMember`). */
export interface Member {
  /** The member's identifier (`I` + 64 hex). */
  identifier: string;
  /** The attributes its credentials carry. */
  attributes: Attributes;
  /** Who added it: the enroller whose ticket it redeemed, or the operator who added it. */
  addedBy: string;
  /** When it was added, in seconds since the epoch. */
  addedAt: number;
}

/** A ticket as the store keeps it: the SHA-256 of its code, never the code. */
export interface TicketRecord {
  /** Lowercase hex SHA-256 of the one-time code. */
  hash: string;
  /** What the member enrolled with it gets. */
  attributes: Attributes;
  /** The enroller that created it. */
  issuedBy: string;
  /** When it was created, in seconds. */
  createdAt: number;
  /** When it expires, in seconds. */
  expiresAt: number;
}

/** Why a ticket was not redeemed. */
export type RedeemRefusal = "ticket-unknown" | "ticket-used" | "ticket-expired" | "already-member";

/** The outcome of {@linkcode MemberStore.redeemTicket}. */
export type RedeemResult =
  | { ok: true; member: Member }
  | { ok: false; reason: RedeemRefusal };

/** What {@linkcode MemberStore.redeemTicket} is asked. */
export interface RedeemRequest {
  /** Hex SHA-256 of the presented code. */
  hash: string;
  /** The identifier of the identity presenting it (from its secure channel). */
  identifier: string;
  /** The current time in seconds. */
  now: number;
}

/**
 * An authority's durable state. Every method is atomic: `redeemTicket` in particular
 * checks the ticket, marks it used and adds the member in one step, or changes nothing.
 */
export interface MemberStore {
  /** The member `identifier`, if it is one. */
  getMember(identifier: string): Promise<Member | undefined>;
  /** Adds `member`, replacing one with the same identifier. */
  putMember(member: Member): Promise<void>;
  /** Removes the member `identifier`; whether there was one. */
  removeMember(identifier: string): Promise<boolean>;
  /** Every member, in identifier order. */
  listMembers(): Promise<Member[]>;
  /** Keeps a new ticket (its hash is unique). */
  addTicket(ticket: TicketRecord): Promise<void>;
  /**
   * Redeems the ticket `hash` for `identifier`: unknown, already used or expired tickets
   * and identities that already are members are refused, changing nothing; otherwise the
   * ticket is marked used (kept until it expires, so a reuse is told apart) and the member
   * added, together. Tickets expired for a day are purged.
   */
  redeemTicket(request: RedeemRequest): Promise<RedeemResult>;
  /** Releases the store. */
  close(): Promise<void>;
}

/** How long a used or expired ticket's hash is kept to tell a reuse apart: one day. */
export const TICKET_TOMBSTONE_TTL = 24 * 60 * 60;

interface MemoryTicket extends TicketRecord {
  usedBy?: string;
}

/**
 * A {@linkcode MemberStore} in memory (lost with the process): for tests, browsers and
 * short-lived authorities.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryMemberStore } from "@sealroute/sealroute/authority";
 * const store = new MemoryMemberStore();
 * const id = "I" + "ab".repeat(32);
 * await store.addTicket({ hash: "aa", attributes: { role: "sensor" }, issuedBy: id, createdAt: 0, expiresAt: 60 });
 * const first = await store.redeemTicket({ hash: "aa", identifier: id, now: 1 });
 * assert(first.ok && first.member.attributes.role === "sensor");
 * const again = await store.redeemTicket({ hash: "aa", identifier: "I" + "cd".repeat(32), now: 2 });
 * assert.deepEqual(again, { ok: false, reason: "ticket-used" });
 * ```
 */
export class MemoryMemberStore implements MemberStore {
  #members = new Map<string, Member>();
  #tickets = new Map<string, MemoryTicket>();

  /** The member `identifier`, if it is one. */
  getMember(identifier: string): Promise<Member | undefined> {
    const member = this.#members.get(identifier);
    return Promise.resolve(member && copy(member));
  }

  /** Adds `member`, replacing one with the same identifier. */
  putMember(member: Member): Promise<void> {
    this.#members.set(member.identifier, copy(member));
    return Promise.resolve();
  }

  /** Removes the member `identifier`; whether there was one. */
  removeMember(identifier: string): Promise<boolean> {
    return Promise.resolve(this.#members.delete(identifier));
  }

  /** Every member, in identifier order. */
  listMembers(): Promise<Member[]> {
    const all = [...this.#members.values()].map(copy);
    all.sort((a, b) => a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0);
    return Promise.resolve(all);
  }

  /** Keeps a new ticket. */
  addTicket(ticket: TicketRecord): Promise<void> {
    if (this.#tickets.has(ticket.hash)) {
      return Promise.reject(new TypeError("a ticket with this hash exists"));
    }
    this.#tickets.set(ticket.hash, { ...ticket, attributes: { ...ticket.attributes } });
    return Promise.resolve();
  }

  /** Redeems a ticket atomically (no await between the checks and the changes). */
  redeemTicket(request: RedeemRequest): Promise<RedeemResult> {
    for (const [hash, t] of this.#tickets) {
      if (t.expiresAt + TICKET_TOMBSTONE_TTL < request.now) this.#tickets.delete(hash);
    }
    const ticket = this.#tickets.get(request.hash);
    let result: RedeemResult;
    if (!ticket) result = { ok: false, reason: "ticket-unknown" };
    else if (ticket.usedBy !== undefined) result = { ok: false, reason: "ticket-used" };
    else if (ticket.expiresAt <= request.now) result = { ok: false, reason: "ticket-expired" };
    else if (this.#members.has(request.identifier)) {
      result = { ok: false, reason: "already-member" };
    } else {
      ticket.usedBy = request.identifier;
      const member: Member = {
        identifier: request.identifier,
        attributes: { ...ticket.attributes },
        addedBy: ticket.issuedBy,
        addedAt: request.now,
      };
      this.#members.set(member.identifier, member);
      result = { ok: true, member: copy(member) };
    }
    return Promise.resolve(result);
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function copy(member: Member): Member {
  return { ...member, attributes: { ...member.attributes } };
}
