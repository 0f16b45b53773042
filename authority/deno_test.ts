import assert from "node:assert/strict";
import { Authority } from "./mod.ts";
import { openAuthority, SqliteMemberStore } from "./deno.ts";
import { createIdentity } from "../identity/mod.ts";
import { Vault } from "../vault/mod.ts";

const id = (n: number) => "I" + n.toString(16).padStart(64, "0");

Deno.test("SQLite store: 1,000 concurrent redemptions, each ticket once, all kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const authority = new Authority({
      identity: await createIdentity(new Vault()),
      store: new SqliteMemberStore(`${dir}/authority.db`),
    });
    const tickets = await Promise.all(
      Array.from(
        { length: 1000 },
        (_, i) => authority.createTicket({ attributes: { role: "sensor", n: String(i) } }),
      ),
    );
    const results = await Promise.allSettled(tickets.flatMap((t, i) => [
      authority.redeem(t.code, id(i)),
      authority.redeem(t.code, id(i + 10_000)),
    ]));
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(refused.length, 1000);
    for (const r of refused) assert.equal((r as PromiseRejectedResult).reason.code, "ticket-used");
    await authority.store.close();

    const reopened = new SqliteMemberStore(`${dir}/authority.db`);
    const members = await reopened.listMembers();
    assert.equal(members.length, 1000);
    assert.deepEqual(
      members.map((m) => m.identifier),
      [...members.map((m) => m.identifier)].sort(),
    );
    // Ticket i went to exactly one of its two claimants, with its attributes.
    for (const i of [0, 5, 999]) {
      const winners = [await reopened.getMember(id(i)), await reopened.getMember(id(i + 10_000))]
        .filter((m) => m !== undefined);
      assert.equal(winners.length, 1);
      assert.equal(winners[0]!.attributes.n, String(i));
    }
    // Tickets are stored as hashes only: no code appears in the database file.
    const file = await Deno.readFile(`${dir}/authority.db`);
    const hex = Array.from(file, (b) => b.toString(16).padStart(2, "0")).join("");
    for (const t of tickets.slice(0, 20)) {
      const code = Array.from(t.code, (b) => b.toString(16).padStart(2, "0")).join("");
      assert(!hex.includes(code));
    }
    await reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SQLite store: refusals change nothing; expired tickets are purged after a day", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new SqliteMemberStore(`${dir}/a.db`);
    const base = { attributes: { role: "x" }, issuedBy: id(1), createdAt: 100 };
    await store.addTicket({ ...base, hash: "aa", expiresAt: 200 });
    await store.addTicket({ ...base, hash: "bb", expiresAt: 200 });
    await store.putMember({ identifier: id(2), attributes: {}, addedBy: id(1), addedAt: 1 });
    assert.deepEqual(await store.redeemTicket({ hash: "aa", identifier: id(2), now: 150 }), {
      ok: false,
      reason: "already-member",
    });
    assert.deepEqual(await store.redeemTicket({ hash: "bb", identifier: id(3), now: 200 }), {
      ok: false,
      reason: "ticket-expired",
    });
    assert.deepEqual(await store.redeemTicket({ hash: "zz", identifier: id(3), now: 150 }), {
      ok: false,
      reason: "ticket-unknown",
    });
    const ok = await store.redeemTicket({ hash: "aa", identifier: id(3), now: 150 });
    assert(ok.ok && ok.member.addedBy === id(1));
    assert.equal((await store.listMembers()).length, 2);
    assert.deepEqual(await store.redeemTicket({ hash: "aa", identifier: id(4), now: 90_000 }), {
      ok: false,
      reason: "ticket-unknown",
    });
    assert(await store.removeMember(id(3)));
    assert(!(await store.removeMember(id(3))));
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openAuthority keeps the identity and the members in the state directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openAuthority(dir, { credentialTtl: 60 });
    const { code } = await first.createTicket({ attributes: { role: "sensor" } });
    await first.redeem(code, id(9));
    await first.store.close();
    const again = await openAuthority(dir);
    assert.equal(again.identifier, first.identifier);
    assert.equal((await again.member(id(9)))?.attributes.role, "sensor");
    await assert.rejects(again.redeem(code, id(10)), { code: "ticket-used" });
    await again.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
