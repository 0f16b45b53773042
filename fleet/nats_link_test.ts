// The NATS link over an in-memory stand-in for a NATS client: routing, hostile input
// (gaps, malformed messages, bad names) and close.
import assert from "node:assert/strict";
import { TransportError } from "../errors.ts";
import { Node, startEcho } from "../routing/mod.ts";
import {
  connectNatsLink,
  linkSubject,
  type NatsLinkClient,
  natsLinkDuplex,
  type NatsLinkMessage,
} from "./nats_link.ts";

type Callback = (error: Error | null, message: NatsLinkMessage) => void;

/** Core-NATS-like bus: asynchronous, no delivery without a subscriber; `tap` may drop. */
function bus(tap: (subject: string, data: Uint8Array) => boolean = () => true) {
  const subs = new Map<string, Callback>();
  const client: NatsLinkClient = {
    publish: (subject, data) => {
      if (!tap(subject, data)) return;
      const copy = data.slice();
      queueMicrotask(() => subs.get(subject)?.(null, { data: copy }));
    },
    subscribe: (subject, { callback }) => {
      subs.set(subject, callback);
      return { unsubscribe: () => subs.delete(subject) };
    },
  };
  const inject = (subject: string, data: Uint8Array) => subs.get(subject)?.(null, { data });
  return { client, inject };
}

const limits = { heartbeatInterval: 0, deadAfter: 0 };

Deno.test("a NATS link routes a request and its reply", async () => {
  const { client } = bus();
  await using a = new Node();
  await using b = new Node();
  const linkA = connectNatsLink(a, client, { from: "a", to: "b", ...limits });
  const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
  startEcho(b, { consumes: [linkB.flow] });
  const reply = await a.request(linkA.route.append("echo"), new Uint8Array([1, 2, 3]), {
    timeout: 5000,
  });
  assert.deepEqual(reply.payload, new Uint8Array([1, 2, 3]));
  await linkA.close();
  const why = await linkB.closed;
  assert(why instanceof TransportError, "closing one side ends the other");
});

Deno.test("lost NATS messages are resent: the stream stays whole", async (t) => {
  for (const lose of ["a gap followed by more data", "the last message (nothing follows)"]) {
    await t.step(lose, async () => {
      let drops = 0;
      const { client } = bus((subject, data) => {
        if (drops > 0 && subject === "sealroute.link.a.b" && data[0] === 0) {
          drops--;
          return false;
        }
        return true;
      });
      await using a = new Node();
      await using b = new Node();
      const linkA = connectNatsLink(a, client, { from: "a", to: "b", ...limits });
      const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
      startEcho(b, { consumes: [linkB.flow] });
      await a.request(linkA.route.append("echo"), new Uint8Array([1]), { timeout: 5000 });
      drops = 1;
      const replies = [
        a.request(linkA.route.append("echo"), new Uint8Array([2]), { timeout: 5000 }),
      ];
      if (lose.startsWith("a gap")) {
        replies.push(a.request(linkA.route.append("echo"), new Uint8Array([3]), { timeout: 5000 }));
      }
      const got = await Promise.all(replies);
      assert.deepEqual(got.map((r) => r.payload[0]), lose.startsWith("a gap") ? [2, 3] : [2]);
      assert.equal(drops, 0, "a message was dropped");
      await linkA.close();
      await linkB.closed;
    });
  }
});

Deno.test("a resend request for acknowledged bytes (a restarted peer) fails with link-gap", async () => {
  const { client, inject } = bus();
  await using a = new Node();
  await using b = new Node();
  const linkA = connectNatsLink(a, client, { from: "a", to: "b", ...limits });
  const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
  startEcho(b, { consumes: [linkB.flow] });
  await a.request(linkA.route.append("echo"), new Uint8Array([1]), { timeout: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 100)); // acknowledgements settle
  const nack = new Uint8Array(5);
  nack[0] = 5; // NACK #0: already acknowledged
  inject("sealroute.link.b.a", nack);
  const why = await linkA.closed;
  assert(why instanceof TransportError);
  assert.equal(why.code, "link-gap");
  await linkB.closed;
});

Deno.test("a hello with a new session id (a restarted peer) fails with peer-restarted", async () => {
  const { client, inject } = bus();
  await using a = new Node();
  await using b = new Node();
  const linkA = connectNatsLink(a, client, { from: "a", to: "b", ...limits });
  const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
  startEcho(b, { consumes: [linkB.flow] });
  await a.request(linkA.route.append("echo"), new Uint8Array([1]), { timeout: 5000 });
  const hello = new Uint8Array(5 + 8).fill(0xab);
  hello[0] = 2;
  inject("sealroute.link.b.a", hello);
  const why = await linkA.closed;
  assert(why instanceof TransportError);
  assert.equal(why.code, "peer-restarted");
  await linkB.closed;
});

Deno.test("malformed NATS link messages close the link with bad-message", async (t) => {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["unknown kind", new Uint8Array(9).fill(9)],
    ["short hello", new Uint8Array([2, 0, 0, 0, 0, 1])],
  ];
  for (const [label, data] of cases) {
    await t.step(label, async () => {
      const { client, inject } = bus();
      await using b = new Node();
      const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
      inject("sealroute.link.a.b", data);
      const why = await linkB.closed;
      assert(why instanceof TransportError);
      assert.equal(why.code, "bad-message");
    });
  }
});

Deno.test("a hostile peer's garbage inside a valid NATS message closes the link", async () => {
  const { client, inject } = bus();
  await using b = new Node();
  const linkB = connectNatsLink(b, client, { from: "b", to: "a", ...limits });
  const hello = new Uint8Array(5 + 8);
  hello[0] = 2;
  inject("sealroute.link.a.b", hello);
  const garbage = new Uint8Array(5 + 8);
  garbage.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 5); // data #0: bad version byte
  inject("sealroute.link.a.b", garbage);
  const why = await linkB.closed;
  assert(why instanceof TransportError);
  assert.equal(why.code, "bad-protocol-version");
});

Deno.test("a reader behind by maxQueuedBytes: the rest is resent, nothing lost", async () => {
  const { client } = bus();
  const a = natsLinkDuplex(client, { from: "a", to: "b", maxChunk: 10 });
  const b = natsLinkDuplex(client, { from: "b", to: "a", maxQueuedBytes: 16 });
  const sent = Uint8Array.from({ length: 100 }, (_, i) => i);
  const writer = a.writable.getWriter();
  await writer.write(sent);
  await new Promise((resolve) => setTimeout(resolve, 50)); // b's queue is full meanwhile
  const reader = b.readable.getReader();
  const got: number[] = [];
  while (got.length < sent.length) {
    const { value, done } = await reader.read();
    assert(!done && value);
    got.push(...value);
  }
  assert.deepEqual(got, [...sent]);
  writer.releaseLock();
  reader.releaseLock();
  await a.close();
  await b.close();
});

Deno.test("fleet node names must be plain NATS tokens", () => {
  assert.equal(linkSubject("relay-1", "relay_2"), "sealroute.link.relay-1.relay_2");
  for (const bad of ["", "a.b", "a*", ">", "a b", "x".repeat(65)]) {
    assert.throws(() => linkSubject(bad, "b"), (e: unknown) => {
      return e instanceof TransportError && e.code === "bad-name";
    });
  }
});
