// The transport phase end to end: loss, repeats, reordering, rekeys, Close, many channels.
import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import type { Logger } from "../routing/logger.ts";
import { Node } from "../routing/node.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import { startEcho } from "../routing/echo.ts";
import { issueCredential } from "../identity/mod.ts";
import { createSecureChannel } from "./create_secure_channel.ts";
import { createSecureChannelListener } from "./secure_channel_listener.ts";
import type { SecureChannel } from "./secure_channel.ts";
import { identity, linkedNodes, startTap, text, untext, waitFor } from "./_channel_test_util.ts";

function recordingLogger(): Logger & { codes: string[] } {
  const codes: string[] = [];
  const keep = (_: string, fields?: Record<string, unknown>) => {
    if (typeof fields?.code === "string") codes.push(fields.code);
  };
  return { codes, debug() {}, info() {}, warn: keep, error: keep };
}

/** A node with a listener, a counting sink, and a channel whose frames pass `tap`. */
async function tapped(edit: (m: RoutedMessage) => RoutedMessage[]) {
  const logger = recordingLogger();
  const node = new Node({ logger });
  const received: number[] = [];
  const listener = await createSecureChannelListener(node, "api", { identity: await identity() });
  node.startWorker("sink", (ctx) => {
    received.push(
      new DataView(ctx.message.payload.buffer, ctx.message.payload.byteOffset).getUint32(0),
    );
  }, { mailboxCapacity: 100_000, consumes: [listener.flow] });
  let handshake = 0;
  startTap(node, "tap", (m) => (handshake++ < 3 ? [m] : edit(m)));
  const channel = await createSecureChannel(node, ["tap", "api"], { identity: await identity() });
  const send = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, i);
      await channel.send("sink", payload);
    }
  };
  return { node, logger, received, channel, send };
}

Deno.test("repeated frames are refused with a typed error and the channel keeps working", async () => {
  const t = await tapped((m) => [m, m]); // every frame arrives twice
  await t.send(0, 100);
  await waitFor(() =>
    t.received.length === 100 && t.logger.codes.filter((c) => c === "replayed").length === 100
  );
  assert.deepEqual(t.received, [...Array(100).keys()]);
  await t.channel.close();
  await t.node.close();
});

Deno.test("reordered frames are each delivered exactly once", async () => {
  let held: RoutedMessage[] = [];
  const t = await tapped((m) => {
    held.push(m);
    if (held.length < 50) return [];
    const out = held.reverse();
    held = [];
    return out; // batches of 50, newest first
  });
  await t.send(0, 1000);
  await waitFor(() => t.received.length === 1000);
  assert.deepEqual([...t.received].sort((a, b) => a - b), [...Array(1000).keys()]);
  assert.notDeepEqual(t.received, [...Array(1000).keys()], "the tap did reorder");
  await t.channel.close();
  await t.node.close();
});

Deno.test("a burst of 10,000 lost messages is followed by delivery", async () => {
  let index = 0;
  const t = await tapped((m) => (index++ >= 100 && index <= 10_100 ? [] : [m]));
  await t.send(0, 10_200);
  await waitFor(() => t.received.length === 200, 20_000);
  assert.deepEqual(t.received, [
    ...Array(100).keys(),
    ...Array.from({ length: 100 }, (_, i) => 10_100 + i),
  ]);
  await t.channel.close();
  await t.node.close();
});

Deno.test("more than 1,000 messages in both directions cross many rekeys", async () => {
  await using node = new Node();
  const listener = await createSecureChannelListener(node, "api", { identity: await identity() });
  startEcho(node, { consumes: [listener.flow] });
  const channel = await createSecureChannel(node, "api", { identity: await identity() });
  const replies: string[] = [];
  for (let batch = 0; batch < 1500; batch += 250) {
    const round = await Promise.all(
      Array.from({ length: 250 }, (_, i) => channel.request("echo", text(`m${batch + i}`))),
    );
    replies.push(...round.map((r) => untext(r.payload)));
  }
  assert.deepEqual(replies, Array.from({ length: 1500 }, (_, i) => `m${i}`));
  await channel.close();
});

Deno.test("Close from either end tears down both ends", async () => {
  for (const closer of ["initiator", "responder"] as const) {
    await using link = await linkedNodes();
    const accepted: SecureChannel[] = [];
    await createSecureChannelListener(link.b, "api", {
      identity: await identity(),
      onChannel: (c) => accepted.push(c),
      consumes: [link.flow],
    });
    const initiatorWorkers = link.a.workerAddresses().length;
    const responderWorkers = link.b.workerAddresses().length;
    const initiator = await createSecureChannel(link.a, link.route.append("api"), {
      identity: await identity(),
    });
    await waitFor(() => accepted.length === 1);
    const responder = accepted[0]!;
    const [active, passive] = closer === "initiator"
      ? [initiator, responder]
      : [responder, initiator];
    await active.close();
    assert.equal(await active.closed, undefined);
    const reason = await passive.closed;
    assert.ok(
      reason instanceof ChannelError && reason.code === "closed-by-peer",
      `${closer}: ${reason}`,
    );
    await assert.rejects(passive.send("echo", text("x")), { code: "closed-by-peer" });
    await assert.rejects(active.send("echo", text("x")), { code: "closed" });
    await waitFor(() =>
      link.a.workerAddresses().length === initiatorWorkers &&
      link.b.workerAddresses().length === responderWorkers
    );
  }
});

Deno.test("a channel closes with route-lost when its connection goes away", async () => {
  const link = await linkedNodes();
  await createSecureChannelListener(link.b, "api", {
    identity: await identity(),
    consumes: [link.flow],
  });
  const channel = await createSecureChannel(link.a, link.route.append("api"), {
    identity: await identity(),
  });
  await link[Symbol.asyncDispose]();
  assert.equal((await channel.closed)?.code, "route-lost");
});

Deno.test("1,000 concurrent channels on one listener all work", async () => {
  await using link = await linkedNodes();
  const listener = await createSecureChannelListener(link.b, "api", {
    identity: await identity(),
    consumes: [link.flow],
  });
  startEcho(link.b, { consumes: [listener.flow] });
  const client = await identity();
  const channels = await Promise.all(
    Array.from(
      { length: 1000 },
      () => createSecureChannel(link.a, link.route.append("api"), { identity: client }),
    ),
  );
  const replies = await Promise.all(channels.map((c, i) => c.request("echo", text(`${i}`))));
  assert.deepEqual(replies.map((r) => untext(r.payload)), channels.map((_, i) => `${i}`));
  assert.equal(listener.channels.size, 1000);
  await Promise.all(channels.map((c) => c.close()));
  await waitFor(() => listener.channels.size === 0);
});

Deno.test("refreshed credentials grant their attributes to later messages", async () => {
  await using node = new Node();
  const authority = await identity();
  const accepted: SecureChannel[] = [];
  await createSecureChannelListener(node, "api", {
    identity: await identity(),
    authorities: [authority.identity],
    onChannel: (c) => accepted.push(c),
  });
  const client = await identity();
  const channel = await createSecureChannel(node, "api", { identity: client });
  await waitFor(() => accepted.length === 1);
  assert.deepEqual(accepted[0]!.remoteAttributes, {});
  const credential = await issueCredential({
    issuer: authority,
    subject: client.identity,
    attributes: { role: "operator" },
  });
  await channel.refreshCredentials([credential]);
  await waitFor(() => accepted[0]!.remoteAttributes.role !== undefined);
  assert.equal(untext(accepted[0]!.remoteAttributes.role!), "operator");
  await channel.close();
});

Deno.test("a channel can be used as Web Streams of messages", async () => {
  await using node = new Node();
  const listener = await createSecureChannelListener(node, "api", { identity: await identity() });
  startEcho(node, { consumes: [listener.flow] });
  const channel = await createSecureChannel(node, "api", { identity: await identity() });
  const stream = channel.openStream("echo");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  for (const word of ["one", "two", "three"]) await writer.write(text(word));
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push(untext((await reader.read()).value!));
  assert.deepEqual(got, ["one", "two", "three"]);
  await writer.close();
  await reader.cancel();
  await channel.close();
});

Deno.test("a request routed through a channel fails at once when the peer closes it", async () => {
  await using node = new Node();
  const accepted: SecureChannel[] = [];
  const listener = await createSecureChannelListener(node, "api", {
    identity: await identity(),
    onChannel: (c) => accepted.push(c),
  });
  node.startWorker("slow", () => {}, { consumes: [listener.flow] }); // never replies
  const channel = await createSecureChannel(node, "api", { identity: await identity() });
  await waitFor(() => accepted.length === 1);
  const pending = node.request([channel.address, "slow"], text("?"), { timeout: 10_000 });
  await accepted[0]!.close();
  // closed-by-peer, not the request's 10 s timeout.
  await assert.rejects(pending, (e) => e instanceof ChannelError && e.code === "closed-by-peer");
});
