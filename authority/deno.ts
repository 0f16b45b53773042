/**
 * The authority's durable state on Deno: {@linkcode SqliteMemberStore}, the member table
 * and tickets in SQLite (`node:sqlite`, built into Deno), and {@linkcode openAuthority},
 * an authority kept in a state directory.
 *
 * Why SQLite: it is the most widely deployed embedded database, maintained with an
 * extensive test suite, and built into the runtime (no dependency). Each change is one
 * transaction; in WAL mode with `synchronous=FULL` a committed transaction is on disk
 * before the call returns, and a process killed at any point (kill -9) leaves the
 * database at the last committed transaction: never a half-redeemed ticket. Several
 * processes may open one database (the CLI adds tickets while the authority serves).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { loadOrCreateIdentity } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { Authority, type AuthorityOptions } from "./authority.ts";
import type { Attributes } from "./messages.ts";
import {
  type Member,
  type MemberStore,
  type RedeemRequest,
  type RedeemResult,
  TICKET_TOMBSTONE_TTL,
  type TicketRecord,
} from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS member (
  identifier TEXT PRIMARY KEY,
  attributes TEXT NOT NULL,
  added_by TEXT NOT NULL,
  added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket (
  hash TEXT PRIMARY KEY,
  attributes TEXT NOT NULL,
  issued_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_by TEXT
);
CREATE INDEX IF NOT EXISTS ticket_expiry ON ticket (expires_at);
`;

interface MemberRow {
  identifier: string;
  attributes: string;
  added_by: string;
  added_at: number;
}

/**
 * A {@linkcode MemberStore} in a SQLite database file (WAL, `synchronous=FULL`, one
 * transaction per change).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteMemberStore } from "@sealroute/sealroute/authority/deno";
 * const dir = await Deno.makeTempDir();
 * const id = "I" + "ab".repeat(32);
 * const store = new SqliteMemberStore(`${dir}/authority.db`);
 * await store.putMember({ identifier: id, attributes: { role: "sensor" }, addedBy: id, addedAt: 1 });
 * await store.close();
 * const again = new SqliteMemberStore(`${dir}/authority.db`);
 * assert.equal((await again.getMember(id))?.attributes.role, "sensor");
 * await again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteMemberStore implements MemberStore {
  #db: DatabaseSync;

  /** Opens (or creates) the database at `path`. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
    this.#db.exec(SCHEMA);
  }

  /** The member `identifier`, if it is one. */
  getMember(identifier: string): Promise<Member | undefined> {
    const row = this.#db.prepare("SELECT * FROM member WHERE identifier = ?").get(identifier);
    return Promise.resolve(row ? memberOf(row as unknown as MemberRow) : undefined);
  }

  /** Adds `member`, replacing one with the same identifier. */
  putMember(member: Member): Promise<void> {
    this.#db.prepare(
      "INSERT OR REPLACE INTO member (identifier, attributes, added_by, added_at) VALUES (?, ?, ?, ?)",
    ).run(member.identifier, JSON.stringify(member.attributes), member.addedBy, member.addedAt);
    return Promise.resolve();
  }

  /** Removes the member `identifier`; whether there was one. */
  removeMember(identifier: string): Promise<boolean> {
    const result = this.#db.prepare("DELETE FROM member WHERE identifier = ?").run(identifier);
    return Promise.resolve(Number(result.changes) > 0);
  }

  /** Every member, in identifier order. */
  listMembers(): Promise<Member[]> {
    const rows = this.#db.prepare("SELECT * FROM member ORDER BY identifier").all();
    return Promise.resolve(rows.map((row) => memberOf(row as unknown as MemberRow)));
  }

  /** Keeps a new ticket (only its hash). */
  addTicket(ticket: TicketRecord): Promise<void> {
    this.#db.prepare(
      "INSERT INTO ticket (hash, attributes, issued_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    ).run(
      ticket.hash,
      JSON.stringify(ticket.attributes),
      ticket.issuedBy,
      ticket.createdAt,
      ticket.expiresAt,
    );
    return Promise.resolve();
  }

  /** Redeems a ticket in one `BEGIN IMMEDIATE` transaction. */
  redeemTicket(request: RedeemRequest): Promise<RedeemResult> {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.prepare("DELETE FROM ticket WHERE expires_at + ? < ?").run(
        TICKET_TOMBSTONE_TTL,
        request.now,
      );
      const row = db.prepare("SELECT * FROM ticket WHERE hash = ?").get(request.hash) as
        | { attributes: string; issued_by: string; expires_at: number; used_by: string | null }
        | undefined;
      let result: RedeemResult;
      if (!row) result = { ok: false, reason: "ticket-unknown" };
      else if (row.used_by !== null) result = { ok: false, reason: "ticket-used" };
      else if (row.expires_at <= request.now) result = { ok: false, reason: "ticket-expired" };
      else if (db.prepare("SELECT 1 FROM member WHERE identifier = ?").get(request.identifier)) {
        result = { ok: false, reason: "already-member" };
      } else {
        db.prepare("UPDATE ticket SET used_by = ? WHERE hash = ?").run(
          request.identifier,
          request.hash,
        );
        const member: Member = {
          identifier: request.identifier,
          attributes: parseAttributes(row.attributes),
          addedBy: row.issued_by,
          addedAt: request.now,
        };
        db.prepare(
          "INSERT INTO member (identifier, attributes, added_by, added_at) VALUES (?, ?, ?, ?)",
        ).run(member.identifier, row.attributes, member.addedBy, member.addedAt);
        result = { ok: true, member };
      }
      db.exec("COMMIT");
      return Promise.resolve(result);
    } catch (error) {
      db.exec("ROLLBACK");
      return Promise.reject(error);
    }
  }

  /** Closes the database. */
  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}

function memberOf(row: MemberRow): Member {
  return {
    identifier: row.identifier,
    attributes: parseAttributes(row.attributes),
    addedBy: row.added_by,
    addedAt: Number(row.added_at),
  };
}

function parseAttributes(text: string): Attributes {
  const value: unknown = JSON.parse(text);
  const attributes: Attributes = {};
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) if (typeof v === "string") attributes[k] = v;
  }
  return attributes;
}

/** Options of {@linkcode openAuthority}: those of an {@linkcode Authority} but its state. */
export type OpenAuthorityOptions = Omit<AuthorityOptions, "identity" | "store">;

/**
 * The authority kept in `dir`: its identity (keys in `dir/keys`, the record in
 * `dir/identities`, name `authority`), created on first use, and its members and tickets
 * in `dir/authority.db`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openAuthority } from "@sealroute/sealroute/authority/deno";
 * const dir = await Deno.makeTempDir();
 * const first = await openAuthority(dir);
 * await first.addMember("I" + "ab".repeat(32), { role: "sensor" });
 * await first.store.close();
 * const again = await openAuthority(dir);
 * assert.equal(again.identifier, first.identifier);
 * assert.equal((await again.members()).length, 1);
 * await again.store.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openAuthority(
  dir: string,
  options: OpenAuthorityOptions = {},
): Promise<Authority> {
  await Deno.mkdir(dir, { recursive: true });
  const identity = await loadOrCreateIdentity({
    vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
    store: new FileIdentityStore(`${dir}/identities`),
    name: "authority",
  });
  return new Authority({ ...options, identity, store: new SqliteMemberStore(authorityDb(dir)) });
}

/**
 * The database file of the authority kept in `dir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { authorityDb } from "@sealroute/sealroute/authority/deno";
 * assert.equal(authorityDb("/state"), "/state/authority.db");
 * ```
 */
export function authorityDb(dir: string): string {
  return `${dir}/authority.db`;
}
