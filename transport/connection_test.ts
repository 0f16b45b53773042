import assert from "node:assert/strict";
import { RouteError, TransportError } from "../errors.ts";
import {
  createRelay,
  encodeTcpMessage,
  LOCAL_INFO_IDENTIFIER,
  Node,
  type RoutedMessage,
  RoutedMessage as Message,
  startEcho,
  startRelayService,
} from "../routing/mod.ts";
import { attachDuplex } from "./connection.ts";
import { memoryDuplexPair } from "./duplex.ts";
import { encodeFrames } from "./framing.ts";
import { recordingLogger, until } from "./_helpers_test.ts";

function link(a: Node, b: Node) {
  const [da, db] = memoryDuplexPair();
  return { ab: attachDuplex(a, da), ba: attachDuplex(b, db) };
}

Deno.test("two nodes over an in-memory duplex: request/reply", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  startEcho(bob, { consumes: [ba.flow] });
  const reply = await alice.request(ab.route.append("echo"), new Uint8Array([1, 2, 3]), {
    timeout: 2000,
  });
  assert.deepEqual([...reply.payload], [1, 2, 3]);
  // the reply came back through alice's sender worker, then bob's echo
  assert.equal(reply.returnRoute.length, 2);
  assert.ok(reply.returnRoute.next!.equals(ab.address));
  assert.equal(reply.returnRoute.last!.toString(), "echo");
});

Deno.test("three nodes A -> B -> C: the reply returns along the return route", async () => {
  await using a = new Node();
  await using b = new Node();
  await using c = new Node();
  const { ab, ba } = link(a, b);
  const { ab: bc, ba: cb } = link(b, c);
  startEcho(c, { consumes: [cb.flow] });
  // B bridges its two links, both ways.
  b.flowControls.addConsumer(bc.address, ba.flow);
  b.flowControls.addConsumer(ba.address, bc.flow);
  let seenAtC: RoutedMessage | undefined;
  c.startWorker("probe", async (ctx) => {
    seenAtC = ctx.message;
    await ctx.reply(ctx.message.payload);
  }, { consumes: [cb.flow] });
  // B forwards from its receiver straight into its B->C sender worker.
  const route = ab.route.append(bc.address, "probe");
  const reply = await a.request(route, new TextEncoder().encode("abc"), { timeout: 2000 });
  assert.equal(new TextDecoder().decode(reply.payload), "abc");
  assert.equal(seenAtC!.onwardRoute.toString(), "probe");
  assert.equal(seenAtC!.returnRoute.length, 3); // C's sender to B, B's sender to A, A's reply worker
  assert.equal(reply.returnRoute.last!.toString(), "probe");
  const echoed = await a.request(route.popBack().append("echo"), new Uint8Array([9]), {
    timeout: 2000,
  });
  assert.equal(echoed.payload[0], 9);
});

Deno.test("10,000 messages arrive in order with none lost", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const seen: number[] = [];
  const { ab, ba } = link(alice, bob);
  bob.startWorker("sink", ({ message }) => {
    seen.push(new DataView(message.payload.buffer, message.payload.byteOffset).getUint32(0));
  }, { consumes: [ba.flow] });
  const route = ab.route.append("sink");
  for (let i = 0; i < 10_000; i++) {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, i);
    await alice.deliver(new Message({ onwardRoute: route, payload }));
  }
  await until(() => seen.length === 10_000);
  assert.ok(seen.every((v, i) => v === i));
});

Deno.test("an 8 MiB message crosses intact", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  startEcho(bob, { consumes: [ba.flow] });
  const payload = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff;
  payload[payload.length - 1] = 0xab;
  const reply = await alice.request(ab.route.append("echo"), payload, { timeout: 10_000 });
  assert.equal(reply.payload.length, payload.length);
  assert.equal(reply.payload[payload.length - 1], 0xab);
  assert.equal(reply.payload[4096 * 3], (4096 * 3) & 0xff);
});

Deno.test("an oversized frame closes the connection with frame-too-large; pending requests fail", async () => {
  await using bob = new Node();
  const [raw, db] = memoryDuplexPair();
  const conn = attachDuplex(bob, db, { maxFrameSize: 1024 });
  const writer = raw.writable.getWriter();
  void writer.write(new Uint8Array([1, 0, 0, 0x10, 0])).catch(() => {}); // version, then a 4096-byte length
  const reason = await conn.closed;
  assert.ok(reason instanceof TransportError);
  assert.equal((reason as TransportError).code, "frame-too-large");
  assert.ok(!bob.hasWorker(conn.address));
  writer.releaseLock();
  await raw.close();
});

Deno.test("a wrong protocol version byte closes the connection", async () => {
  await using bob = new Node();
  const [raw, db] = memoryDuplexPair();
  const conn = attachDuplex(bob, db);
  const writer = raw.writable.getWriter();
  void writer.write(new Uint8Array([2, 0, 0, 0, 0])).catch(() => {});
  const reason = await conn.closed;
  assert.equal((reason as TransportError).code, "bad-protocol-version");
  writer.releaseLock();
  await raw.close();
});

Deno.test("an undecodable body closes with bad-message; heartbeats are dropped silently", async () => {
  const logger = recordingLogger();
  await using bob = new Node({ logger });
  const seen: number[] = [];
  const [raw, db] = memoryDuplexPair();
  const conn = attachDuplex(bob, db);
  bob.startWorker("sink", ({ message }) => void seen.push(message.payload[0]!), {
    consumes: [conn.flow],
  });
  const writer = raw.writable.getWriter();
  const heartbeat = encodeTcpMessage(new Message({ onwardRoute: [] }));
  const ok = encodeTcpMessage(new Message({ onwardRoute: "sink", payload: new Uint8Array([5]) }));
  void writer.write(new Uint8Array([1, ...encodeFrames([heartbeat, ok, new Uint8Array([0xff])])]))
    .catch(() => {});
  const reason = await conn.closed;
  assert.equal((reason as TransportError).code, "bad-message");
  await until(() => seen.length === 1);
  assert.deepEqual(seen, [5]);
  assert.ok(logger.lines.includes("warn: connection lost"));
  writer.releaseLock();
  await raw.close();
});

Deno.test("a lost connection fails requests routed through it with a TransportError", async () => {
  await using alice = new Node();
  await using bob = new Node();
  bob.startWorker("void", () => {});
  const { ab, ba } = link(alice, bob);
  const pending = alice.request(ab.route.append("void"), new Uint8Array(), { timeout: 10_000 });
  const check = assert.rejects(
    pending,
    (e) => e instanceof TransportError && e.code === "connection-closed",
  );
  await new Promise((r) => setTimeout(r, 10));
  await ba.close(); // bob's side goes away
  await check;
  assert.equal(((await ab.closed) as TransportError).code, "connection-closed");
  // alice keeps working locally
  startEcho(alice);
  assert.equal((await alice.request("echo", new Uint8Array([1]), { timeout: 1000 })).payload[0], 1);
});

Deno.test("node.close() closes its connections; the peer sees connection-closed", async () => {
  const alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  await alice.close();
  assert.ok((await ab.closed) instanceof RouteError);
  assert.equal(((await ba.closed) as TransportError).code, "connection-closed");
});

Deno.test("relay over a connection: deliver through it, removed when the device's connection closes", async () => {
  await using hub = new Node();
  await using device = new Node();
  await using client = new Node();
  const { ab: deviceToHub, ba: hubToDevice } = link(device, hub);
  const { ab: clientToHub, ba: hubToClient } = link(client, hub);
  await using service = startRelayService(hub, { consumes: [hubToDevice.flow, hubToClient.flow] });
  startEcho(device, { consumes: [deviceToHub.flow] });
  const relay = await createRelay(device, deviceToHub.route, "dev", { timeout: 2000 });
  assert.equal(relay.address.toString(), "forward_to_dev");
  const reply = await client.request(
    clientToHub.route.append("forward_to_dev", "echo"),
    new Uint8Array([4]),
    {
      timeout: 2000,
    },
  );
  assert.equal(reply.payload[0], 4);
  await deviceToHub.close();
  await until(() => service.relays().length === 0);
  await relay.close();
});

Deno.test("relay takeover over connections uses the identity in localInfo", async () => {
  await using hub = new Node();
  await using device = new Node();
  const { ab: toHub, ba: fromDevice } = link(device, hub);
  await using _service = startRelayService(hub);
  // A stand-in for a secure channel on the hub: tags requests from this link with an identity.
  let identity = "Ialice";
  hub.startWorker("tagger", async (ctx) => {
    await ctx.forward(ctx.message.with({
      onwardRoute: ctx.message.onwardRoute.popFront(),
      localInfo: { [LOCAL_INFO_IDENTIFIER]: identity },
    }));
  }, { consumes: [fromDevice.flow] });
  const first = await createRelay(device, toHub.route.append("tagger"), "name", { timeout: 2000 });
  identity = "Imallory";
  await assert.rejects(
    createRelay(device, toHub.route.append("tagger"), "name", { timeout: 2000 }),
    (e) => e instanceof RouteError && e.code === "relay-refused",
  );
  identity = "Ialice";
  const again = await createRelay(device, toHub.route.append("tagger"), "name", { timeout: 2000 });
  assert.equal(again.address.toString(), "forward_to_name");
  await first.close();
  await again.close();
});
