// Secure channels outlive their links (issue 13): a channel over a reconnecting link keeps
// working across reconnects without a new handshake; the responder holds its frames while
// its route is down and follows the peer's new route; frames received before a loss are
// handled first; a responder left alone gives up after its grace time.
import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, startEcho } from "../routing/mod.ts";
import {
  attachDuplex,
  type Connection,
  type FaultDuplex,
  faultDuplex,
  memoryDuplexPair,
  reconnectingLink,
} from "../transport/mod.ts";
import { listenTcp, reconnectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);
const identity = () => createIdentity(new Vault());

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A TCP server with a channel listener and echo behind it, counting handshakes. */
async function tcpServer(options: { routeLossGrace?: number } = {}) {
  const node = new Node();
  const tcp = listenTcp(node);
  const accepted: SecureChannel[] = [];
  const listener = await createSecureChannelListener(node, "api", {
    identity: await identity(),
    consumes: [tcp.flow],
    onChannel: (c) => accepted.push(c),
    ...options,
  });
  startEcho(node, { consumes: [listener.flow] });
  return { node, tcp, accepted };
}

Deno.test("a channel over a reconnecting TCP link survives its connection being dropped, without a new handshake", async () => {
  const s = await tcpServer();
  await using client = new Node();
  try {
    await using link = await reconnectTcp(client, `127.0.0.1:${s.tcp.port}`, {
      initialDelay: 10,
    });
    const channel = await createSecureChannel(client, link.route.append("api"), {
      identity: await identity(),
    });
    assert.equal(untext((await channel.request("echo", text("before"))).payload), "before");
    for (let cut = 1; cut <= 5; cut++) {
      const back = new Promise((resolve) => {
        const off = link.on((e) => e.type === "connected" && resolve(off()));
      });
      // The server drops the link: the responder's route is down until the next frame.
      for (const c of s.tcp.connections) await c.close();
      await back;
      const reply = await channel.request("echo", text(`after ${cut}`), { timeout: 5000 });
      assert.equal(untext(reply.payload), `after ${cut}`);
    }
    assert.equal(link.reconnects, 5);
    assert.equal(s.accepted.length, 1, "one handshake for the channel's whole life");
    assert.ok(!channel.isClosed && !s.accepted[0]!.isClosed);
    await channel.close();
  } finally {
    await s.node.close();
  }
});

Deno.test("frames a responder sends while its route is down are held and flow, in order, once the peer is back", async () => {
  const s = await tcpServer();
  await using client = new Node();
  try {
    await using link = await reconnectTcp(client, `127.0.0.1:${s.tcp.port}`, {
      initialDelay: 10,
    });
    const got: string[] = [];
    const channel = await createSecureChannel(client, link.route.append("api"), {
      identity: await identity(),
    });
    client.startWorker("inbox", (ctx) => {
      got.push(untext(ctx.message.payload));
    }, { consumes: [channel.flow] });
    await channel.request("echo", text("hello"));
    const responder = s.accepted[0]!;
    const back = new Promise((resolve) => {
      const off = link.on((e) => e.type === "connected" && resolve(off()));
    });
    for (const c of s.tcp.connections) await c.close();
    // Sent by the responder into a route whose first hop is gone.
    for (let i = 0; i < 20; i++) {
      await s.node.send([responder.address, "inbox"], text(`m${i}`));
    }
    await back;
    assert.deepEqual(got, [], "nothing can arrive before the peer shows its new route");
    // The initiator's next frame shows the responder the way back.
    await channel.request("echo", text("ping"), { timeout: 5000 });
    await until(() => got.length === 20, "the held frames");
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `m${i}`));
    await channel.close();
  } finally {
    await s.node.close();
  }
});

Deno.test("a responder whose peer never comes back closes with route-lost after its grace time", async () => {
  const s = await tcpServer({ routeLossGrace: 200 });
  await using client = new Node();
  try {
    // A plain (not reconnecting) link: once dropped, the initiator is gone for good.
    const { connectTcp } = await import("../transport/deno.ts");
    const conn = await connectTcp(client, `127.0.0.1:${s.tcp.port}`);
    const channel = await createSecureChannel(client, conn.route.append("api"), {
      identity: await identity(),
    });
    await channel.request("echo", text("hi"));
    const responder = s.accepted[0]!;
    for (const c of s.tcp.connections) await c.close();
    const [initiatorWhy, responderWhy] = await Promise.all([channel.closed, responder.closed]);
    assert.ok(initiatorWhy instanceof ChannelError && initiatorWhy.code === "route-lost");
    assert.ok(responderWhy instanceof ChannelError && responderWhy.code === "route-lost");
  } finally {
    await s.node.close();
  }
});

Deno.test("a peer that sends Close and drops its link at once is seen as closed-by-peer, 30 times of 30", async () => {
  for (let i = 0; i < 30; i++) {
    const s = await tcpServer();
    const client = new Node();
    try {
      const { connectTcp } = await import("../transport/deno.ts");
      const conn = await connectTcp(client, `127.0.0.1:${s.tcp.port}`);
      const channel = await createSecureChannel(client, conn.route.append("api"), {
        identity: await identity(),
      });
      await channel.request("echo", text("x"));
      const responder = s.accepted[0]!;
      // Frames in flight, so the Close queues behind frames still being decrypted and
      // delivered when the link drops (to a worker that answers nothing: replies racing a
      // closing socket would make the kernel reset it and discard what it received).
      let sunk = 0;
      s.node.startWorker("sink", async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        sunk++;
      }, { consumes: [responder.flow] });
      for (let n = 0; n < 50; n++) void channel.send("sink", text(`y${n}`)).catch(() => {});
      await channel.close();
      await conn.close();
      const why = await responder.closed;
      assert.ok(
        why instanceof ChannelError && why.code === "closed-by-peer",
        `run ${i}: ${why?.code}`,
      );
      await s.node.drained("sink");
      assert.equal(sunk, 50, "every frame sent before the Close was delivered first");
    } finally {
      await client.close();
      await s.node.close();
    }
  }
});

Deno.test("a channel keeps working across 100 seeded cuts of its link", async () => {
  const seed = Number(Deno.env.get("SEALROUTE_CUT_SEED") ?? 1302);
  await using server = new Node();
  await using client = new Node();
  const flow = server.flowControls.createFlow({ label: "memory listener" });
  const accepted: SecureChannel[] = [];
  const listener = await createSecureChannelListener(server, "api", {
    identity: await identity(),
    consumes: [flow],
    onChannel: (c) => accepted.push(c),
  });
  startEcho(server, { consumes: [listener.flow] });
  const faults: FaultDuplex[] = [];
  let dials = 0;
  await using link = await reconnectingLink(client, (how) => {
    const [a, b] = memoryDuplexPair();
    attachDuplex(server, b, { spawner: flow });
    // The first connection carries the handshake unharmed; each later one is cut at a seeded
    // point within its first few hundred bytes.
    const faulty = dials++ === 0
      ? faultDuplex(a, { seed })
      : faultDuplex(a, { seed: seed + dials, random: { meanBytes: 600, kinds: ["cut", "drop"] } });
    faults.push(faulty);
    return Promise.resolve<Connection>(attachDuplex(client, faulty, how));
  }, { initialDelay: 1, maxDelay: 20, random: () => 0.5 });
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await identity(),
  });
  faults[0]!.drop();
  let answered = 0;
  let retried = 0;
  for (let i = 0; link.reconnects < 100; i++) {
    try {
      const reply = await channel.request("echo", text(`m${i}`), { timeout: 300 });
      assert.equal(untext(reply.payload), `m${i}`);
      answered++;
    } catch (error) {
      // A request whose frame was on a link as it was cut is lost (delivery guarantees are
      // issue 14's); it times out, and the next one goes on the healed link.
      assert.ok(
        error instanceof Error &&
          /timeout|timed out/i.test(`${(error as { code?: string }).code} ${error.message}`),
        `seed ${seed}: ${error}`,
      );
      retried++;
    }
    assert.ok(!channel.isClosed, `seed ${seed}: the channel closed after ${link.reconnects} cuts`);
  }
  // After the 100th cut the channel still carries traffic.
  const last = await channel.request("echo", text("last"), { timeout: 5000 });
  assert.equal(untext(last.payload), "last", `seed ${seed}`);
  assert.equal(accepted.length, 1, `seed ${seed}: one handshake across 100 cuts`);
  assert.ok(answered > 0, `seed ${seed}`);
  console.log(`seed ${seed}: 100 cuts, ${answered} answered, ${retried} retried`);
  await channel.close();
});

Deno.test("keepHandshakeRoute: frames go through the relay name, and survive the relay node being replaced", async () => {
  // A relay node, a device registered there as `x`, a client whose channel runs through it.
  const { createRelay, startRelayService } = await import("../routing/mod.ts");
  await using device = new Node();
  await using client = new Node();
  const deviceListener = await createSecureChannelListener(device, "api", {
    identity: await identity(),
  });
  startEcho(device, { consumes: [deviceListener.flow] });
  const relayNode = async () => {
    const node = new Node();
    const flow = node.flowControls.createFlow();
    startRelayService(node, { consumes: [flow] });
    const [toDevice, atRelay] = memoryDuplexPair();
    attachDuplex(node, atRelay, { spawner: flow });
    const up = attachDuplex(device, toDevice);
    // What arrives over the device's connection reaches its listener and channels.
    device.flowControls.addConsumer("api", up.flow);
    for (const c of deviceListener.channels) {
      device.flowControls.addConsumer(c.remoteAddress, up.flow);
    }
    await createRelay(device, up.route, "x", { timeout: 2000 });
    return { node, flow };
  };
  let relay = await relayNode();
  const link = await reconnectingLink(client, ({ replyAddress, spawner }) => {
    const [a, b] = memoryDuplexPair();
    attachDuplex(relay.node, b, { spawner: relay.flow });
    return Promise.resolve(attachDuplex(client, a, { replyAddress, spawner }));
  }, { initialDelay: 5 });
  const route = link.route.append("forward_to_x", "api");
  const channel = await createSecureChannel(client, route, {
    identity: await identity(),
    keepHandshakeRoute: true,
  });
  await until(() => deviceListener.channels.size === 1, "the responder's channel");
  const [responder] = [...deviceListener.channels];
  assert.deepEqual(
    channel.remoteRoute.toString(),
    link.route.append("forward_to_x", responder!.remoteAddress).toString(),
  );
  assert.equal(untext((await channel.request("echo", text("one"))).payload), "one");

  // The relay node is replaced (a restart: nothing of the old one survives), the device
  // registers again, the client's link reconnects; the same channel carries on.
  const old = relay.node;
  relay = await relayNode();
  const back = new Promise((resolve) => {
    const off = link.on((e) => e.type === "connected" && resolve(off()));
  });
  await old.close();
  await back;
  assert.equal(
    untext((await channel.request("echo", text("two"), { timeout: 5000 })).payload),
    "two",
  );
  assert.equal(deviceListener.channels.size, 1, "no new handshake");
  await channel.close();
  await link.close();
  await relay.node.close();
});
