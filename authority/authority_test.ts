import assert from "node:assert/strict";
import {
  Authority,
  AuthorityClient,
  CredentialRefresher,
  decodeTicket,
  encodeTicket,
  enroll,
  fetchCredential,
  memberAccessControl,
  MemoryMemberStore,
  startAuthorityService,
} from "./mod.ts";
import {
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
} from "../channel/mod.ts";
import {
  createIdentity,
  systemClock,
  trustCredentials,
  verifyCredential,
} from "../identity/mod.ts";
import { Node } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";
import { decodeRequest, encodeRequest } from "./api.ts";

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert(check(), `timed out waiting for ${what}`);
}

// The responder refuses after message 3: the initiator's channel is closed by the peer.
async function refused(opening: Promise<SecureChannel>): Promise<void> {
  const channel = await opening;
  const reason = await channel.closed;
  assert.equal(reason?.code, "closed-by-peer");
}

async function setup(options: { credentialTtl?: number; ticketTtl?: number } = {}) {
  let now = systemClock();
  const clock = () => now;
  const node = new Node();
  const authority = new Authority({
    identity: await createIdentity(new Vault()),
    clock,
    ...options,
  });
  const service = await startAuthorityService(node, authority, { clock });
  return {
    node,
    authority,
    clock,
    advance: (s: number) => now += s,
    close: async () => {
      await service.close();
      await node.close();
    },
  };
}

Deno.test("enroll, issue, use in a channel, refresh across expiry, then removal", async () => {
  const { node, authority, clock, advance, close } = await setup({ credentialTtl: 100 });
  try {
    const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
    const device = await createIdentity(new Vault());
    const enrolled = await enroll(node, [], { identity: device, ticket });
    assert.equal(enrolled.authority.identifier, authority.identifier);
    const member = await authority.member(device.identifier);
    assert.equal(member?.attributes.role, "sensor");
    assert.equal(member?.addedBy, authority.identifier);

    const server = await createIdentity(new Vault());
    const accepted: string[] = [];
    const listener = await createSecureChannelListener(node, "sensors", {
      identity: server,
      authorities: [enrolled.authority],
      trustPolicy: trustCredentials({ authorities: [authority.identifier] }),
      clock,
      onChannel: (c) => accepted.push(c.remoteIdentifier),
    });
    const refresher = new CredentialRefresher({
      initial: enrolled.credential,
      clock,
      fetch: () => fetchCredential(node, [], { identity: device, authority: enrolled.authority }),
    });
    const channel = await createSecureChannel(node, "sensors", {
      identity: device,
      credentials: refresher.credentials,
      clock,
    });
    refresher.track(channel);
    await until(() => listener.channels.size === 1, "the server's channel");
    const serverSide = [...listener.channels][0]!;
    assert.equal(text(serverSide.remoteAttributes.role), "sensor");

    // Not due yet; then due: the refreshed credential reaches the open channel.
    assert.equal(await refresher.tick(), false);
    await authority.addMember(device.identifier, { role: "sensor-v2" });
    advance(85);
    assert.equal(await refresher.tick(), true);
    await until(() => text(serverSide.remoteAttributes.role) === "sensor-v2", "the refresh");

    // Past the first credential's expiry: the old one is refused, the refreshed one works.
    advance(50);
    await refused(createSecureChannel(node, "sensors", {
      identity: device,
      credentials: [enrolled.credential],
      clock,
    }));
    const second = await createSecureChannel(node, "sensors", {
      identity: device,
      credentials: refresher.credentials,
      clock,
    });
    // The server verifies message 3 after the initiator sent it: let it, before the clock
    // moves on (else it could check the credential at the later time).
    await until(() => accepted.length === 2, "the server accepting the refreshed credential");
    await second.close();

    // Removed: no new credential, and channels are refused once the last one expired.
    assert(await authority.removeMember(device.identifier));
    await assert.rejects(refresher.refresh(), { name: "AuthorityError", code: "not-member" });
    advance(200);
    await refused(createSecureChannel(node, "sensors", {
      identity: device,
      credentials: refresher.credentials,
      clock,
    }));
    assert.equal(accepted.length, 2);
    await channel.close();
  } finally {
    await close();
  }
});

Deno.test("tickets: reuse, expiry, forgery and another authority's are refused, leaving nothing", async () => {
  const { node, authority, advance, close } = await setup({ ticketTtl: 60 });
  const other = await setup();
  try {
    const device = await createIdentity(new Vault());
    const second = await createIdentity(new Vault());
    const { ticket } = await authority.createTicket({ attributes: { role: "sensor" } });
    await enroll(node, [], { identity: device, ticket });
    await assert.rejects(enroll(node, [], { identity: second, ticket }), {
      name: "AuthorityError",
      code: "ticket-used",
    });
    // A member presenting a second ticket: refused, and that ticket stays usable.
    const spare = await authority.createTicket({ attributes: { role: "admin" } });
    await assert.rejects(enroll(node, [], { identity: device, ticket: spare.ticket }), {
      code: "already-member",
    });
    assert.equal((await authority.member(device.identifier))?.attributes.role, "sensor");
    await enroll(node, [], { identity: second, ticket: spare.ticket });

    const late = await authority.createTicket({ attributes: { role: "sensor" } });
    advance(61);
    const third = await createIdentity(new Vault());
    await assert.rejects(enroll(node, [], { identity: third, ticket: late.ticket }), {
      code: "ticket-expired",
    });
    // Forged: a random code with this authority's history.
    const forged = encodeTicket({ ...decodeTicket(ticket), code: new Uint8Array(32).fill(9) });
    await assert.rejects(enroll(node, [], { identity: third, ticket: forged }), {
      code: "ticket-unknown",
    });
    // Another authority's ticket: refused before it is sent, and by this authority if sent.
    const foreign = await other.authority.createTicket({ attributes: { role: "sensor" } });
    const channel = await createSecureChannel(node, "api", { identity: third });
    const client = new AuthorityClient(channel);
    await assert.rejects(client.presentTicket(foreign.ticket), { code: "wrong-authority" });
    await assert.rejects(
      client.presentTicket({ ...decodeTicket(foreign.ticket), authority: device.changeHistory }),
      { code: "wrong-authority" },
    );
    await assert.rejects(
      authority.redeem(decodeTicket(foreign.ticket).code, third.identifier),
      { code: "ticket-unknown" },
    );
    await assert.rejects(client.requestCredential(third), { code: "not-member" });
    await channel.close();
    assert.equal(await authority.member(third.identifier), undefined);
    assert.deepEqual(
      (await authority.members()).map((m) => m.identifier).sort(),
      [
        device.identifier,
        second.identifier,
      ].sort(),
    );
    // The foreign ticket still works at its own authority.
    await other.authority.redeem(decodeTicket(foreign.ticket).code, third.identifier);
  } finally {
    await close();
    await other.close();
  }
});

Deno.test("enrollers: members with ockam-role=enroller create tickets, others may not", async () => {
  const { node, authority, close } = await setup();
  try {
    const enroller = await createIdentity(new Vault());
    const stranger = await createIdentity(new Vault());
    await authority.addMember(enroller.identifier, { "ockam-role": "enroller" });
    const channel = await createSecureChannel(node, "api", { identity: enroller });
    const client = new AuthorityClient(channel);
    const ticket = await client.createTicket({
      attributes: { role: "sensor" },
      ttl: 120,
      authority: authority.identity.identity,
    });
    await assert.rejects(
      client.createTicket({
        attributes: { "ockam-role": "enroller" },
        authority: authority.identity.identity,
      }),
      { name: "AuthorityError", code: "not-enroller" },
    );
    const device = await createIdentity(new Vault());
    await enroll(node, [], { identity: device, ticket });
    assert.equal((await authority.member(device.identifier))?.addedBy, enroller.identifier);

    const other = await createSecureChannel(node, "api", { identity: stranger });
    await assert.rejects(
      new AuthorityClient(other).createTicket({
        attributes: {},
        authority: authority.identity.identity,
      }),
      { code: "not-enroller" },
    );
    await other.close();
    await channel.close();
  } finally {
    await close();
  }
});

Deno.test("the services answer only through the authority's channels", async () => {
  const { node, authority, close } = await setup();
  try {
    const reply = await node.request(
      "credential_issuer",
      encodeRequest({ id: 3, path: "/", method: "POST" }),
      { timeout: 5000 },
    );
    const { decodeResponse, decodeApiError } = await import("./api.ts");
    const { header, body } = decodeResponse(reply.payload);
    assert.equal(header.status, 400);
    assert.equal(decodeApiError(body!).message, "secure channel required");
    // A malformed request through a channel is a 400, and the worker goes on.
    const device = await createIdentity(new Vault());
    await authority.addMember(device.identifier, { role: "x" });
    const channel = await createSecureChannel(node, "api", { identity: device });
    const bad = await channel.request("credential_issuer", new Uint8Array([1, 2]), {
      timeout: 5000,
    });
    assert.equal(decodeResponse(bad.payload).header.status, 400);
    const unknown = await channel.request(
      "credential_issuer",
      encodeRequest({ id: 4, path: "/nope", method: "GET" }),
      { timeout: 5000 },
    );
    assert.equal(decodeResponse(unknown.payload).header.re, 4);
    assert.equal(decodeResponse(unknown.payload).header.status, 400);
    // An Ockam client sends no body: the credential names the identifier's first change.
    const plain = await new AuthorityClient(channel).requestCredential();
    const verified = await verifyCredential(plain, {
      authorities: [authority.identity.identity],
      subject: device.identifier,
    });
    assert.equal(text(verified.attributes.role), "x");
    assert.equal(decodeRequest(encodeRequest({ id: 1, path: "/" })).header.method, undefined);
    await channel.close();
  } finally {
    await close();
  }
});

Deno.test("1,000 members enroll concurrently, each ticket once", async () => {
  const authority = new Authority({
    identity: await createIdentity(new Vault()),
    store: new MemoryMemberStore(),
  });
  const tickets = await Promise.all(
    Array.from({ length: 1000 }, () => authority.createTicket({ attributes: { role: "sensor" } })),
  );
  const ids = tickets.map((_, i) => "I" + i.toString(16).padStart(64, "0"));
  // Every ticket presented twice at once, by two identities: exactly one wins.
  const results = await Promise.allSettled(tickets.flatMap((t, i) => [
    authority.redeem(t.code, ids[i]!),
    authority.redeem(t.code, "I" + (i + 5000).toString(16).padStart(64, "0")),
  ]));
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1000);
  assert.equal((await authority.members()).length, 1000);
});

Deno.test("a peer that asks the authority refuses a removed member at once", async () => {
  const { node, authority, close } = await setup();
  try {
    const device = await createIdentity(new Vault());
    await authority.addMember(device.identifier, { role: "sensor" });
    const server = await createIdentity(new Vault());
    const listener = await createSecureChannelListener(node, "guarded", { identity: server });
    const seen: string[] = [];
    const verdicts: boolean[] = [];
    node.startWorker("telemetry", (ctx) => {
      seen.push(text(ctx.message.payload));
    }, {
      consumes: [listener.flow],
      incoming: memberAccessControl(async (id) => {
        const member = Boolean(await authority.member(id));
        verdicts.push(member);
        return member;
      }),
    });
    const channel = await createSecureChannel(node, "guarded", { identity: device });
    await channel.send("telemetry", new TextEncoder().encode("one"));
    await until(() => seen.length === 1, "the first message");
    // Removed: the open channel's next message is refused at once.
    await authority.removeMember(device.identifier);
    await channel.send("telemetry", new TextEncoder().encode("two"));
    await until(() => verdicts.length === 2, "the second verdict");
    // Added back: it gets through again.
    await authority.addMember(device.identifier, { role: "sensor" });
    await channel.send("telemetry", new TextEncoder().encode("three"));
    await until(() => seen.length === 2, "the third message");
    assert.deepEqual(seen, ["one", "three"]);
    assert.deepEqual(verdicts, [true, false, true]);
    await channel.close();
  } finally {
    await close();
  }
});

Deno.test("a started refresher renews the credential on its own before it expires", async () => {
  const { node, authority, close } = await setup({ credentialTtl: 2 });
  try {
    const device = await createIdentity(new Vault());
    await authority.addMember(device.identifier, { role: "sensor" });
    const fetch = () =>
      fetchCredential(node, [], { identity: device, authority: authority.identity.identity });
    const renewed: number[] = [];
    const refresher = new CredentialRefresher({
      initial: await fetch(),
      fetch,
      onRefresh: () => renewed.push(refresher.expiresAt),
    });
    const first = refresher.expiresAt;
    refresher.start();
    try {
      for (let i = 0; i < 1000 && renewed.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10)); // hang guard: 10 s
      }
      assert.equal(renewed.length >= 1, true);
      assert(refresher.expiresAt >= first);
      assert.equal(refresher.credentials.length, 1);
    } finally {
      refresher.stop();
    }
  } finally {
    await close();
  }
});
