import assert from "node:assert/strict";
import { ChannelError, HandshakeError, TrustError } from "../errors.ts";
import {
  type CredentialAndPurposeKey,
  issueCredential,
  trustCredentials,
  trustIdentifiers,
} from "../identity/mod.ts";
import { startEcho } from "../routing/echo.ts";
import { Node } from "../routing/node.ts";
import { LOCAL_INFO_IDENTIFIER, type RoutedMessage } from "../routing/routed_message.ts";
import { abacAccessControl, peerOf } from "./access_control.ts";
import { createSecureChannel } from "./create_secure_channel.ts";
import { createSecureChannelListener } from "./secure_channel_listener.ts";
import type { SecureChannel } from "./secure_channel.ts";
import { LOCAL_INFO_ATTRIBUTES } from "./secure_channel_options.ts";
import {
  credentialed,
  identity,
  linkedNodes,
  startTap,
  text,
  untext,
  waitFor,
} from "./_channel_test_util.ts";

Deno.test("a channel between two nodes carries messages both ways and names the peer", async () => {
  await using link = await linkedNodes();
  const server = await identity();
  const client = await identity();
  const listener = await createSecureChannelListener(link.b, "api", {
    identity: server,
    consumes: [link.flow],
  });
  startEcho(link.b, { consumes: [listener.flow] });
  const seen: RoutedMessage[] = [];
  link.b.startWorker("inbox", (ctx) => {
    seen.push(ctx.message);
    return ctx.reply(text("ack"));
  }, { consumes: [listener.flow] });
  const channel = await createSecureChannel(link.a, link.route.append("api"), {
    identity: client,
    trustPolicy: trustIdentifiers(server.identifier),
  });
  assert.equal(channel.remoteIdentifier, server.identifier);
  const reply = await channel.request("inbox", text("hello"));
  assert.equal(untext(reply.payload), "ack");
  assert.equal(seen[0]!.localInfo[LOCAL_INFO_IDENTIFIER], client.identifier);
  assert.equal(reply.localInfo[LOCAL_INFO_IDENTIFIER], server.identifier);
  const echoed = await channel.request("echo", text("ping"));
  assert.equal(untext(echoed.payload), "ping");
  assert.equal(listener.channels.size, 1);
  await channel.close();
  await waitFor(() => listener.channels.size === 0);
});

Deno.test("messages through a channel carry the peer's attributes for access control", async () => {
  await using node = new Node();
  const authority = await identity();
  const operator = await credentialed(authority, { role: "operator" });
  const viewer = await credentialed(authority, { role: "viewer" });
  let ran = 0;
  const listener = await createSecureChannelListener(node, "api", {
    identity: await identity(),
    authorities: [authority.identity],
  });
  node.startWorker("commands", (ctx) => {
    ran++;
    assert.equal(untext(peerOf(ctx.message.localInfo)!.attributes.role!), "operator");
    return ctx.reply(text("done"));
  }, { incoming: abacAccessControl('(= subject.role "operator")'), consumes: [listener.flow] });
  const allowed = await createSecureChannel(node, "api", { identity: operator });
  assert.equal(untext((await allowed.request("commands", text("go"))).payload), "done");
  const denied = await createSecureChannel(node, "api", { identity: viewer });
  await assert.rejects(denied.request("commands", text("go"), { timeout: 200 }), {
    code: "timeout",
  });
  assert.equal(ran, 1);
  await allowed.close();
  await denied.close();
});

Deno.test("an initiator refuses a responder its policy does not trust, leaving nothing behind", async () => {
  await using link = await linkedNodes();
  const refused: unknown[] = [];
  await createSecureChannelListener(link.b, "api", {
    identity: await identity(),
    timeout: 100,
    onRefused: (e) => refused.push(e),
    consumes: [link.flow],
  });
  const initiatorWorkers = link.a.workerAddresses().length;
  const responderWorkers = link.b.workerAddresses().length;
  await assert.rejects(
    createSecureChannel(link.a, link.route.append("api"), {
      identity: await identity(),
      trustPolicy: trustIdentifiers("I" + "ab".repeat(32)),
    }),
    (e) => e instanceof TrustError && e.code === "untrusted-peer",
  );
  assert.equal(link.a.workerAddresses().length, initiatorWorkers);
  // The responder never gets message 3: it frees its half after its timeout.
  await waitFor(() => refused.length === 1);
  assert.ok(refused[0] instanceof ChannelError && refused[0].code === "handshake-timeout");
  await waitFor(() => link.b.workerAddresses().length === responderWorkers);
});

Deno.test("a responder refuses an initiator without the required attribute and closes its channel", async () => {
  await using node = new Node();
  startEcho(node);
  const authority = await identity();
  const refused: unknown[] = [];
  await createSecureChannelListener(node, "api", {
    identity: await identity(),
    authorities: [authority.identity],
    trustPolicy: trustCredentials({
      authorities: [authority.identifier],
      attributes: { role: "operator" },
    }),
    onRefused: (e) => refused.push(e),
  });
  const before = node.workerAddresses().length;
  const channel = await createSecureChannel(node, "api", {
    identity: await credentialed(authority, { role: "viewer" }),
  });
  const reason = await channel.closed;
  assert.ok(reason instanceof ChannelError && reason.code === "closed-by-peer");
  await assert.rejects(channel.request("echo", text("x")), { code: "closed-by-peer" });
  assert.equal(refused.length, 1);
  assert.ok(refused[0] instanceof TrustError);
  await waitFor(() => node.workerAddresses().length === before);
});

Deno.test("an expired credential does not satisfy a policy that needs it", async () => {
  await using node = new Node();
  const authority = await identity();
  const now = () => Math.floor(Date.now() / 1000);
  const holder = await credentialed(authority, { role: "operator" }, { ttl: 60 });
  const refused: unknown[] = [];
  const server = await identity();
  await server.secureChannelKey(); // attested now; the listener below checks an hour later
  await createSecureChannelListener(node, "api", {
    identity: server,
    authorities: [authority.identity],
    trustPolicy: trustCredentials({
      authorities: [authority.identifier],
      attributes: { role: "operator" },
    }),
    clock: () => now() + 3600, // an hour later: the credential expired
    onRefused: (e) => refused.push(e),
  });
  const channel = await createSecureChannel(node, "api", { identity: holder });
  assert.equal((await channel.closed)?.code, "closed-by-peer");
  assert.ok(refused[0] instanceof TrustError);
});

Deno.test("an open channel drops the peer's attributes when its credential expires, and closes if its policy needs them", async () => {
  await using node = new Node();
  const authority = await identity();
  let later = 0;
  const clock = () => Math.floor(Date.now() / 1000) + later;
  const operator = await credentialed(authority, { role: "operator" }, { ttl: 60 });
  // Each listener's end by name: the two responders may report open in either order.
  const ends: Record<string, SecureChannel> = {};
  const common = { authorities: [authority.identity], clock };
  const strict = await createSecureChannelListener(node, "strict", {
    identity: await identity(),
    trustPolicy: trustCredentials({
      authorities: [authority.identifier],
      attributes: { role: "operator" },
    }),
    onChannel: (c: SecureChannel) => void (ends.strict = c),
    ...common,
  });
  const lax = await createSecureChannelListener(node, "lax", {
    identity: await identity(),
    onChannel: (c: SecureChannel) => void (ends.lax = c),
    ...common,
  });
  const seen: RoutedMessage[] = [];
  node.startWorker("inbox", (ctx) => void seen.push(ctx.message), {
    consumes: [strict.flow, lax.flow],
  });
  const toStrict = await createSecureChannel(node, "strict", { identity: operator });
  const toLax = await createSecureChannel(node, "lax", { identity: operator });
  await toStrict.send("inbox", text("strict 1"));
  await toLax.send("inbox", text("lax 1"));
  await waitFor(() => seen.length === 2);
  const role = (m: RoutedMessage) => {
    const attributes = m.localInfo[LOCAL_INFO_ATTRIBUTES] as Record<string, Uint8Array>;
    return attributes.role ? untext(attributes.role) : undefined;
  };
  assert.deepEqual(seen.map(role), ["operator", "operator"]);

  later = 120; // past the credential's expiry, with no refresh
  await toStrict.send("inbox", text("strict 2"));
  await toLax.send("inbox", text("lax 2"));
  await waitFor(() => seen.length === 3);
  assert.equal(untext(seen[2]!.payload), "lax 2", "the strict channel delivered nothing more");
  assert.equal(role(seen[2]!), undefined, "no attribute outlives its credential");
  await waitFor(() => ends.strict !== undefined && ends.lax !== undefined);
  const { strict: strictEnd, lax: laxEnd } = ends;
  assert.equal((await strictEnd!.closed)?.code, "credential-expired");
  assert.equal((await toStrict.closed)?.code, "closed-by-peer", "the initiator is told");
  assert.equal(strict.channels.size, 0);
  assert.ok(!laxEnd!.isClosed);
  assert.deepEqual(laxEnd!.remoteAttributes, {});
  await toLax.close();
  await toStrict.close();
});

Deno.test("a channel given a credential source sends each renewal to its peer by itself", async () => {
  await using node = new Node();
  const authority = await identity();
  const me = await identity();
  const issue = (level: string) =>
    issueCredential({ issuer: authority, subject: me.identity, attributes: { level }, ttl: 60 });
  const current = [await issue("one")];
  const listeners = new Set<(c: readonly CredentialAndPurposeKey[]) => void>();
  const source = {
    credentials: current,
    onChange(listener: (c: readonly CredentialAndPurposeKey[]) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  const responders: SecureChannel[] = [];
  await createSecureChannelListener(node, "api", {
    identity: await identity(),
    authorities: [authority.identity],
    onChannel: (c) => void responders.push(c),
  });
  const channel = await createSecureChannel(node, "api", {
    identity: me,
    credentialSource: source,
  });
  await waitFor(() => responders.length === 1);
  const level = () => untext(responders[0]!.remoteAttributes.level ?? new Uint8Array());
  assert.equal(level(), "one", "the handshake carried the source's credential");
  current.splice(0, 1, await issue("two"));
  for (const listener of listeners) listener(current);
  await waitFor(() => level() === "two");
  await channel.close();
  assert.equal(listeners.size, 0, "a closed channel stops listening");
});

Deno.test("a handshake that never gets an answer times out and frees everything", async () => {
  await using node = new Node();
  node.startWorker("void", () => {});
  const before = node.workerAddresses().length;
  await assert.rejects(
    createSecureChannel(node, "void", { identity: await identity(), timeout: 50 }),
    (e) => e instanceof ChannelError && e.code === "handshake-timeout",
  );
  assert.equal(node.workerAddresses().length, before);
});

Deno.test("an aborted handshake rejects with aborted and frees everything", async () => {
  await using node = new Node();
  node.startWorker("void", () => {});
  const before = node.workerAddresses().length;
  const controller = new AbortController();
  const pending = createSecureChannel(node, "void", {
    identity: await identity(),
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(pending, { code: "aborted" });
  assert.equal(node.workerAddresses().length, before);
});

/** One way of changing one handshake message on its way. */
interface Tamper {
  /** 0, 1, 2: messages 1, 2, 3. */
  message: number;
  what: string;
  edit: (payload: Uint8Array) => Uint8Array;
}

/**
 * Every single-bit flip of each message; truncations to every length of message 1 and to a
 * deterministic sample of lengths (both ends, every key and tag boundary, every 16th) of
 * messages 2 and 3; extensions by 1, 16 and 1024 bytes and past the 65,535-byte limit.
 */
function tampers(sizes: readonly number[]): Tamper[] {
  const out: Tamper[] = [];
  for (const [message, size] of sizes.entries()) {
    const name = `message ${message + 1}`;
    for (let bit = 0; bit < 8 * size; bit++) {
      out.push({
        message,
        what: `${name} bit ${bit}`,
        edit: (p) => {
          const q = p.slice();
          q[bit >> 3]! ^= 1 << (bit & 7);
          return q;
        },
      });
    }
    const lengths = new Set<number>();
    for (let n = 0; n < size; n++) {
      if (message === 0 || n % 16 === 0 || n < 2 || size - n <= 2) lengths.add(n);
    }
    for (const boundary of [31, 32, 33, 47, 48, 49, 79, 80, 81, size - 17, size - 16, size - 15]) {
      if (boundary >= 0 && boundary < size) lengths.add(boundary);
    }
    for (const n of lengths) {
      out.push({ message, what: `${name} cut to ${n} bytes`, edit: (p) => p.slice(0, n) });
    }
    for (const extra of [1, 16, 1024, 65_536 - size]) {
      out.push({
        message,
        what: `${name} extended by ${extra} bytes`,
        edit: (p) => {
          const q = new Uint8Array(p.length + extra);
          q.set(p);
          return q;
        },
      });
    }
  }
  return out;
}

Deno.test("every bit flip, truncation and extension of each handshake message is refused, and nothing stays", async () => {
  await using node = new Node();
  const server = await identity();
  const client = await identity();
  const refusals: unknown[] = [];
  let accepted = 0;
  const listener = await createSecureChannelListener(node, "api", {
    identity: server,
    timeout: 4000,
    onRefused: (e) => refusals.push(e),
    onChannel: () => accepted++,
  });
  startEcho(node, { consumes: [listener.flow] });
  const base = node.workerAddresses().length;
  // Record one clean handshake to learn the message sizes.
  const sizes: number[] = [];
  startTap(node, "sizes", (m) => {
    sizes.push(m.payload.length);
    return [m];
  });
  const clean = await createSecureChannel(node, ["sizes", "api"], { identity: client });
  await clean.close();
  await node.stopWorker("sizes");
  sizes.length = 3;
  assert.ok(sizes[0] === 32 && sizes[1]! > 80 && sizes[2]! > 48, `sizes ${sizes}`);

  const cases = tampers(sizes);
  for (const [message, size] of sizes.entries()) {
    const flips = cases.filter((c) => c.message === message && c.what.includes(" bit "));
    assert.equal(flips.length, 8 * size, "every bit position of every message is covered");
  }
  let id = 0;
  const run = async (t: Tamper): Promise<"initiator" | "responder"> => {
    let seen = 0;
    const tap = `tamper-${id++}`;
    startTap(
      node,
      tap,
      (m) => seen++ === t.message ? [m.with({ payload: t.edit(m.payload) })] : [m],
    );
    try {
      const channel = await createSecureChannel(node, [tap, "api"], {
        identity: client,
        timeout: 4000,
      });
      // Only a changed message 3 gets this far: the initiator cannot tell, the responder refuses.
      assert.equal(t.message, 2, `${t.what} went unnoticed by the initiator`);
      await channel.close();
      return "responder";
    } catch (error) {
      assert.notEqual(t.message, 2, `${t.what}: ${error}`);
      // A message 1 cut short is refused by the responder, which never answers; any other
      // change to messages 1 and 2 leaves message 2 undecryptable for the initiator.
      const timedOut = error instanceof ChannelError && error.code === "handshake-timeout";
      assert.ok(
        error instanceof HandshakeError || (timedOut && t.message === 0),
        `${t.what}: ${error}`,
      );
      return "initiator";
    } finally {
      await node.stopWorker(tap);
    }
  };
  const sides: string[] = [];
  for (let i = 0; i < cases.length; i += 48) {
    sides.push(...await Promise.all(cases.slice(i, i + 48).map(run)));
  }
  assert.equal(accepted, 1, "no tampered handshake opened a channel at the responder");
  const changedThird = cases.filter((c) => c.message === 2).length;
  assert.equal(sides.filter((s) => s === "responder").length, changedThird);
  // The responder refused each changed message 3 (and each message 1 cut short) itself.
  await waitFor(() =>
    refusals.filter((e) => e instanceof HandshakeError).length >=
      changedThird + cases.filter((c) => c.message === 0 && c.what.includes("cut")).length
  );
  // Responders left waiting for a message 3 that never came time out and go away...
  await waitFor(() => node.workerAddresses().length === base, 5000);
  // ...and the listener still serves.
  const fresh = await createSecureChannel(node, "api", { identity: client });
  assert.equal(untext((await fresh.request("echo", text("still here"))).payload), "still here");
  await fresh.close();
});

Deno.test("a channel runs through another channel", async () => {
  await using link = await linkedNodes();
  const server = await identity();
  const outerListener = await createSecureChannelListener(link.b, "api", {
    identity: server,
    consumes: [link.flow],
  });
  // The inner listener is reached through the outer channel, the echo through the inner one.
  const innerListener = await createSecureChannelListener(link.b, "inner-api", {
    identity: await identity(),
    consumes: [outerListener.flow],
  });
  startEcho(link.b, { consumes: [innerListener.flow] });
  const outer = await createSecureChannel(link.a, link.route.append("api"), {
    identity: await identity(),
  });
  const inner = await createSecureChannel(link.a, [outer.address, "inner-api"], {
    identity: await identity(),
  });
  assert.equal(untext((await inner.request("echo", text("nested"))).payload), "nested");
  await inner.close();
  await outer.close();
});
