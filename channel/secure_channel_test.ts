import assert from "node:assert/strict";
import { ChannelError, HandshakeError, TrustError } from "../errors.ts";
import { trustCredentials, trustIdentifiers } from "../identity/mod.ts";
import { startEcho } from "../routing/echo.ts";
import { Node } from "../routing/node.ts";
import { LOCAL_INFO_IDENTIFIER, type RoutedMessage } from "../routing/routed_message.ts";
import { abacAccessControl, peerOf } from "./access_control.ts";
import { createSecureChannel } from "./create_secure_channel.ts";
import { createSecureChannelListener } from "./secure_channel_listener.ts";
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

Deno.test("every single-byte change to each handshake message is caught by one side", async () => {
  await using node = new Node();
  const server = await identity();
  const client = await identity();
  const refusals: unknown[] = [];
  await createSecureChannelListener(node, "api", {
    identity: server,
    timeout: 300,
    onRefused: (e) => refusals.push(e),
  });
  // Record one clean handshake to learn the message sizes.
  const sizes: number[] = [];
  startTap(node, "sizes", (m) => {
    sizes.push(m.payload.length);
    return [m];
  });
  const clean = await createSecureChannel(node, ["sizes", "api"], { identity: client });
  await clean.close();
  const [size1, size2, size3] = sizes;
  assert.ok(size1 === 32 && size2! > 80 && size3! > 48, `sizes ${sizes}`);

  const cases: [number, number][] = [];
  for (const [index, size] of [[0, size1!], [1, size2!], [2, size3!]] as const) {
    for (let at = 0; at < size; at++) cases.push([index, at]);
  }
  let initiatorDetected = 0;
  let responderDetected = 0;
  for (const [index, at] of cases) {
    let seen = 0;
    const tap = `tamper-${index}-${at}`;
    startTap(node, tap, (m) => {
      if (seen++ === index) {
        const payload = m.payload.slice();
        payload[at]! ^= 0x01;
        return [m.with({ payload })];
      }
      return [m];
    });
    const before = refusals.length;
    let channel;
    try {
      channel = await createSecureChannel(node, [tap, "api"], { identity: client, timeout: 300 });
    } catch (error) {
      // Messages 1 and 2: message 2 no longer decrypts for the initiator.
      assert.ok(error instanceof HandshakeError, `message ${index + 1} byte ${at}: ${error}`);
      assert.notEqual(index, 2);
      initiatorDetected++;
    }
    if (channel) {
      // Message 3 was changed: the initiator cannot know; the responder refuses it.
      assert.equal(
        index,
        2,
        `a change to message ${index + 1} at ${at} went unnoticed by the initiator`,
      );
      // (Responders left waiting by earlier cases time out into `refusals` too.)
      await waitFor(() => refusals.slice(before).some((e) => e instanceof HandshakeError));
      responderDetected++;
      await channel.close();
    }
    await node.stopWorker(tap);
  }
  assert.equal(initiatorDetected, size1! + size2!);
  assert.equal(responderDetected, size3!);
  // Responders left waiting for a message 3 that never came time out and go away.
  await waitFor(() => node.workerAddresses().length === 2, 3000);
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
