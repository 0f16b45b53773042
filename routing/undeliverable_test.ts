import assert from "node:assert/strict";
import fc from "fast-check";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { DecodeError, RouteError } from "../errors.ts";
import { createIdentity, type LocalIdentity, trustIdentifiers } from "../identity/mod.ts";
import { attachDuplex, type Connection } from "../transport/connection.ts";
import { memoryDuplexPair } from "../transport/duplex.ts";
import { connectTcp, listenTcp, webSocketHandler } from "../transport/deno.ts";
import { connectWebSocket } from "../transport/websocket.ts";
import { Vault } from "../vault/mod.ts";
import { Address } from "./address.ts";
import { startEcho } from "./echo.ts";
import { Node } from "./node.ts";
import { createRelay } from "./create_relay.ts";
import { startRelayService } from "./relay_service.ts";
import { Route } from "./route.ts";
import {
  configureUndeliverableNotices,
  decodeUndeliverableNotice,
  encodeUndeliverableNotice,
  MAX_NOTICE_ADDRESS_BYTES,
  MAX_NOTICE_BYTES,
  UNDELIVERABLE_ADDRESS,
  type UndeliverableEvent,
} from "./undeliverable.ts";

const HANDSHAKE_TIMEOUT = 20_000; // a hang guard only

function link(a: Node, b: Node): { ab: Connection; ba: Connection } {
  const [da, db] = memoryDuplexPair();
  return { ab: attachDuplex(a, da), ba: attachDuplex(b, db) };
}

/** A worker on `node` that sends to `route` and records the notices it is told of. */
function waiter(node: Node, name = "waiter"): {
  events: UndeliverableEvent[];
  send: (route: Route) => Promise<void>;
} {
  const events: UndeliverableEvent[] = [];
  node.startWorker(name, () => {});
  node.onUndeliverable(name, (event) => events.push(event));
  return {
    events,
    send: (route) => node.send(route, new Uint8Array([1]), { from: name, receiveReplies: true }),
  };
}

/** A round trip over the link, so what was sent before it has been handled on both sides. */
async function sync(a: Node, ab: Connection, b: Node, ba: Connection): Promise<void> {
  if (!b.hasWorker("echo")) startEcho(b, { consumes: [ba.flow] });
  await a.request(ab.route.append("echo"), new Uint8Array(), { timeout: 5000 });
  await a.drained(UNDELIVERABLE_ADDRESS);
}

Deno.test("notice codec: round trip, truncation, strict decoding", () => {
  const waiting = Route.from("relay-link", "initiator");
  const notice = decodeUndeliverableNotice(
    encodeUndeliverableNotice({ code: "unknown-address", address: Address.local("x"), waiting }),
  );
  assert.equal(notice.code, "unknown-address");
  assert.equal(notice.address.toString(), "x");
  assert.equal(notice.truncated, false);
  assert.ok(notice.waiting.equals(waiting));
  const long = Address.local("a".repeat(500));
  const cut = decodeUndeliverableNotice(
    encodeUndeliverableNotice({ code: "unknown-address", address: long, waiting }),
  );
  assert.equal(cut.truncated, true);
  assert.equal(cut.address.value.length, MAX_NOTICE_ADDRESS_BYTES);
  const good = encodeUndeliverableNotice({ code: "unknown-address", address: long, waiting });
  const bad: [Uint8Array, string][] = [
    [new Uint8Array(), "truncated"],
    [Uint8Array.of(2, ...good.subarray(1)), "bad-version"],
    [Uint8Array.of(...good, 0), "trailing-bytes"],
    [new Uint8Array(MAX_NOTICE_BYTES + 1), "too-large"],
    // version, code "X", ...
    [Uint8Array.of(1, 1, 0x58, 0, 1, 0x61, 0, 1, 0, 1, 0x62), "bad-code"],
    [Uint8Array.of(1, 1, 0x61, 0, 1, 0x61, 2, 1, 0, 1, 0x62), "bad-flags"],
    [Uint8Array.of(1, 1, 0x61, 0, 1, 0x61, 0, 9), "route-too-long"],
    [Uint8Array.of(1, 1, 0x61, 0, 0x81, 0x01), "address-too-long"],
  ];
  for (const [bytes, code] of bad) {
    assert.throws(() => decodeUndeliverableNotice(bytes), (e) => {
      assert.ok(e instanceof DecodeError, `${e}`);
      assert.equal(e.code, code);
      return true;
    });
  }
});

Deno.test("notice decoder: any bytes decode or fail with a DecodeError (fast-check)", () => {
  const valid = fc.record({
    code: fc.constantFrom("unknown-address", "a", "x-1"),
    address: fc.uint8Array({ maxLength: 200 }).map((v) => new Address(v.length === 0 ? 1 : 0, v)),
    waiting: fc.array(fc.uint8Array({ minLength: 1, maxLength: 128 }), {
      minLength: 1,
      maxLength: 8,
    }).map((hops) => new Route(hops.map((h) => new Address(0, h)))),
  }).map((n) => encodeUndeliverableNotice(n));
  const mutated = fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(
    ([bytes, at, byte]) => {
      const copy = bytes.slice();
      if (copy.length > 0) copy[at % copy.length] = byte;
      return copy;
    },
  );
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), valid, mutated), (bytes) => {
      try {
        const notice = decodeUndeliverableNotice(bytes);
        assert.ok(notice.waiting.length >= 1 && notice.waiting.length <= 8);
        assert.ok(notice.address.value.length <= MAX_NOTICE_ADDRESS_BYTES);
        // What decodes re-encodes to the same bytes (one encoding per notice).
        assert.deepEqual(encodeUndeliverableNotice(notice), bytes);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("an unknown address over a connection is answered with a notice", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  bob.startWorker("private", () => {}); // exists, but does not consume the link
  const w = waiter(alice);
  await w.send(ab.route.append("nosuch"));
  await w.send(ab.route.append("private"));
  // With nobody behind the connection to tell, nothing is sent.
  await alice.send(ab.route.append("nosuch"), new Uint8Array());
  await sync(alice, ab, bob, ba);
  assert.deepEqual(w.events.map((e) => [e.code, e.address.toString(), e.truncated]), [
    ["unknown-address", "nosuch", false],
    ["unknown-address", "private", false],
  ]);
  assert.equal(w.events[0]!.flow, ab.flow);
});

Deno.test("a notice is passed on over a relay's two joined links", async () => {
  await using a = new Node();
  await using b = new Node();
  await using c = new Node();
  const { ab, ba } = link(a, b);
  const { ab: bc, ba: cb } = link(b, c);
  b.flowControls.addConsumer(bc.address, ba.flow);
  b.flowControls.addConsumer(ba.address, bc.flow);
  const w = waiter(a);
  await w.send(ab.route.append(bc.address, "nosuch"));
  startEcho(c, { consumes: [cb.flow] });
  await a.request(ab.route.append(bc.address, "echo"), new Uint8Array(), { timeout: 5000 });
  await b.drained(UNDELIVERABLE_ADDRESS);
  await sync(a, ab, b, ba);
  assert.deepEqual(w.events.map((e) => e.address.toString()), ["nosuch"]);
});

Deno.test("notices from local workers, for non-consumers, or malformed, are ignored", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  const w = waiter(alice);
  const other = waiter(alice, "other"); // never sent over the link: does not consume it
  const notice = (to: string) =>
    encodeUndeliverableNotice({
      code: "unknown-address",
      address: Address.local("x"),
      waiting: Route.from(to),
    });
  // A local worker routing a notice straight to the notice worker.
  await alice.send(UNDELIVERABLE_ADDRESS, notice("waiter"));
  // Over the link, for a worker that does not talk over it.
  await bob.send(ba.route.append(UNDELIVERABLE_ADDRESS), notice("other"));
  // Over the link, malformed.
  await bob.send(ba.route.append(UNDELIVERABLE_ADDRESS), Uint8Array.of(1, 2, 3));
  await bob.send(ba.route.append(UNDELIVERABLE_ADDRESS), new Uint8Array(MAX_NOTICE_BYTES + 1));
  await sync(alice, ab, bob, ba);
  assert.equal(w.events.length, 0);
  assert.equal(other.events.length, 0);
  // The worker still runs: a good notice over the link, for a worker using it, is heard.
  await w.send(ab.route); // makes `waiter` a consumer of the link's flow
  await bob.send(ba.route.append(UNDELIVERABLE_ADDRESS), notice("waiter"));
  await sync(alice, ab, bob, ba);
  assert.equal(w.events.length, 1);
});

Deno.test("notices are rate-limited per connection, never answered, and can be turned off", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  configureUndeliverableNotices(bob, { rate: 2 });
  const w = waiter(alice);
  const started = Date.now();
  for (let i = 0; i < 40; i++) await w.send(ab.route.append(`nosuch-${i}`));
  await sync(alice, ab, bob, ba);
  const elapsed = Date.now() - started;
  // A bucket of 2, refilled at 2 per second: far fewer than the 40 asked for.
  assert.ok(w.events.length >= 1, "the first notice goes out");
  assert.ok(w.events.length <= 2 + Math.ceil((elapsed * 2) / 1000), `${w.events.length}`);
  // A message to the notice worker is never answered, even where no such worker runs.
  configureUndeliverableNotices(bob, { rate: 100, accept: false });
  const before = w.events.length;
  await w.send(ab.route.append(UNDELIVERABLE_ADDRESS));
  await sync(alice, ab, bob, ba);
  assert.equal(w.events.length, before);
  assert.ok(!bob.hasWorker(UNDELIVERABLE_ADDRESS));
  // Turned off: no notices at all.
  configureUndeliverableNotices(bob, { answer: false });
  await w.send(ab.route.append("nosuch"));
  await sync(alice, ab, bob, ba);
  assert.equal(w.events.length, before);
});

Deno.test("the notice worker runs only while the node has connections", async () => {
  await using alice = new Node();
  await using bob = new Node();
  assert.ok(!alice.hasWorker(UNDELIVERABLE_ADDRESS));
  const { ab, ba } = link(alice, bob);
  assert.ok(alice.hasWorker(UNDELIVERABLE_ADDRESS));
  await ab.close();
  await ba.closed;
  assert.ok(!alice.hasWorker(UNDELIVERABLE_ADDRESS));
  assert.ok(!bob.hasWorker(UNDELIVERABLE_ADDRESS));
});

async function identity(): Promise<LocalIdentity> {
  return await createIdentity(new Vault());
}

Deno.test("over TCP, a handshake to an unknown relay name fails with unknown-address", async () => {
  await using relayNode = new Node();
  await using listener = listenTcp(relayNode, { port: 0 });
  await using _relays = startRelayService(relayNode, { consumes: [listener.flow] });
  await using client = new Node();
  const connection = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const error = await createSecureChannel(
    client,
    connection.route.append("forward_to_nosuch", "api"),
    { identity: await identity(), timeout: HANDSHAKE_TIMEOUT },
  ).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof RouteError, `${error}`);
  assert.equal(error.code, "unknown-address");
  assert.match(error.message, /the far node has no worker 'forward_to_nosuch'/);
  // Nothing of the handshake is left on the client but the link and the notice worker.
  assert.equal(client.workerAddresses().length, 2);
});

Deno.test("over WebSocket, a handshake to an unknown relay name fails with unknown-address", async () => {
  await using relayNode = new Node();
  const ws = webSocketHandler(relayNode);
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, ws);
  try {
    await using _relays = startRelayService(relayNode, { consumes: [ws.flow] });
    await using client = new Node();
    const connection = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
    const error = await createSecureChannel(
      client,
      connection.route.append("forward_to_nosuch", "api"),
      { identity: await identity(), timeout: HANDSHAKE_TIMEOUT },
    ).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RouteError, `${error}`);
    assert.equal(error.code, "unknown-address");
    await connection.close();
  } finally {
    await relayNode.close();
    await http.shutdown();
  }
});

Deno.test("over TCP, a refused relay registration is answered at once", async () => {
  await using relayNode = new Node();
  await using listener = listenTcp(relayNode, { port: 0 });
  await using _relays = startRelayService(relayNode, { consumes: [listener.flow] });
  await using first = new Node();
  await using second = new Node();
  const a = await connectTcp(first, `127.0.0.1:${listener.port}`);
  const b = await connectTcp(second, `127.0.0.1:${listener.port}`);
  await using _held = await createRelay(first, a.route, "taken", { timeout: HANDSHAKE_TIMEOUT });
  const error = await createRelay(second, b.route, "taken", { timeout: HANDSHAKE_TIMEOUT })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof RouteError, `${error}`);
  assert.equal(error.code, "relay-refused");
});

Deno.test("a notice after the channel opened does not close it", async () => {
  await using alice = new Node();
  await using bob = new Node();
  const { ab, ba } = link(alice, bob);
  const server = await identity();
  await createSecureChannelListener(bob, "api", { identity: server, consumes: [ba.flow] });
  const channel = await createSecureChannel(alice, ab.route.append("api"), {
    identity: await identity(),
    trustPolicy: trustIdentifiers(server.identifier),
    timeout: HANDSHAKE_TIMEOUT,
  });
  // A hostile peer tells every worker on alice (the decryptor among them) that 'api' is
  // unknown.
  for (const worker of alice.workerAddresses()) {
    await bob.send(
      ba.route.append(UNDELIVERABLE_ADDRESS),
      encodeUndeliverableNotice({
        code: "unknown-address",
        address: Address.local("api"),
        waiting: new Route([worker]),
      }),
    );
  }
  await sync(alice, ab, bob, ba);
  assert.equal(channel.isClosed, false);
  await channel.close();
});
