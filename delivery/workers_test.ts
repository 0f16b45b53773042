// The sender and receiver workers on one node: bounds, window, lying peers, failures.
import assert from "node:assert/strict";
import { DeliveryError, SealrouteError } from "../errors.ts";
import { Node, type WorkerContext } from "../routing/mod.ts";
import { createDeliverySender, startDeliveryReceiver } from "./mod.ts";
import { decodeDeliveryFrame, type DeliveryFrame, encodeDeliveryFrame } from "./wire.ts";

const byte = (n: number) => Uint8Array.of(n & 0xff, n >> 8);
const num = (b: Uint8Array) => b[0]! | (b[1]! << 8);

/** A fake receiver: records DATA frames, answers with whatever `answer` returns. */
function fakeReceiver(
  node: Node,
  answer: (frame: DeliveryFrame & { type: "data" }) => Uint8Array | undefined,
) {
  const frames: (DeliveryFrame & { type: "data" })[] = [];
  node.startWorker("fake", (ctx: WorkerContext) => {
    const frame = decodeDeliveryFrame(ctx.message.payload);
    if (frame.type !== "data") return;
    frames.push(frame);
    const reply = answer(frame);
    if (reply) return ctx.reply(reply);
  });
  return frames;
}

Deno.test("a full outbox is a typed error with whenFull: error, and a wait otherwise", async () => {
  await using node = new Node();
  fakeReceiver(node, () => undefined); // never acknowledges
  const sender = createDeliverySender(node, {
    route: "fake",
    maxMessages: 3,
    whenFull: "error",
    initialRto: 10_000,
  });
  const pending = [0, 1, 2].map((n) => sender.send(byte(n)).catch((e) => e));
  const full = await sender.send(byte(3)).catch((e) => e);
  assert.ok(full instanceof DeliveryError && full.code === "outbox-full");
  // Bytes bound too.
  const bySize = createDeliverySender(node, { route: "fake", maxBytes: 10, whenFull: "error" });
  const big = bySize.send(new Uint8Array(8)).catch((e) => e);
  const over = await bySize.send(new Uint8Array(3)).catch((e) => e);
  assert.ok(over instanceof DeliveryError && over.code === "outbox-full");
  // Waiting, with an abort.
  const controller = new AbortController();
  const waiting = sender.send(byte(4), { whenFull: "wait", signal: controller.signal })
    .catch((e) => e);
  controller.abort();
  const aborted = await waiting;
  assert.ok(aborted instanceof DeliveryError && aborted.code === "aborted");
  assert.equal(sender.stats.highWaterMessages, 3);
  sender.fail(new DeliveryError("closed", "test over"));
  bySize.fail(new DeliveryError("closed", "test over"));
  for (const p of [...pending, big]) {
    const e = await p;
    assert.ok(e instanceof DeliveryError && e.code === "closed", "rejected, not lost");
  }
});

Deno.test("a waiting send goes in as soon as an acknowledgement frees room; bounds hold", async () => {
  await using node = new Node();
  const got: number[] = [];
  const receiver = startDeliveryReceiver(node, "inbox", {
    window: 4,
    maxBufferedBytes: 64,
    onMessage: async (m) => {
      await new Promise((r) => setTimeout(r, 1));
      got.push(num(m.payload));
    },
  });
  await using sender = createDeliverySender(node, { route: "inbox", maxMessages: 5, maxBytes: 40 });
  await Promise.all(Array.from({ length: 200 }, (_, i) => sender.send(byte(i))));
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
  const s = sender.stats;
  assert.ok(s.highWaterMessages <= 5 && s.highWaterBytes <= 40, JSON.stringify(s));
  assert.ok(receiver.stats.highWaterHeld <= 4 && receiver.stats.highWaterBytes <= 64);
  assert.equal(s.delivered, 200);
});

Deno.test("the sender never goes beyond the window the receiver grants", async () => {
  await using node = new Node();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => release = r);
  let delivered = 0;
  let worst = 0;
  const receiver = startDeliveryReceiver(node, "inbox", {
    window: 8,
    onMessage: async () => {
      await gate;
      delivered++;
    },
  });
  await using sender = createDeliverySender(node, {
    route: "inbox",
    initialWindow: 8,
    initialRto: 5,
    minRto: 5,
  });
  const all = Promise.all(Array.from({ length: 100 }, (_, i) => sender.send(byte(i))));
  const watch = setInterval(() => {
    worst = Math.max(worst, sender.stats.highestSent - (delivered + 8 - 1));
  }, 1);
  await new Promise((r) => setTimeout(r, 50)); // the receiver's application is stuck
  assert.ok(sender.stats.highestSent <= 7, `sent up to ${sender.stats.highestSent}`);
  assert.equal(receiver.stats.refused, 0, "nothing out of window arrived");
  release();
  await all;
  clearInterval(watch);
  assert.ok(worst <= 0, `the sender went ${worst} beyond the window`);
  assert.equal(delivered, 100);
});

Deno.test("a lying receiver (acks beyond what was sent, malformed frames) is refused and changes nothing", async () => {
  await using node = new Node();
  const refused: SealrouteError[] = [];
  const lies: Uint8Array[] = [];
  const frames = fakeReceiver(node, (frame) => {
    const session = frame.session;
    const lie = lies.shift();
    if (lie) return lie;
    return encodeDeliveryFrame({
      type: "ack",
      session,
      cumulative: frame.seq + 1,
      echo: frame.seq,
      window: 8,
      ranges: [],
    });
  });
  const sender = createDeliverySender(node, {
    route: "fake",
    initialRto: 10_000,
    onRefused: (e) => refused.push(e),
  });
  await sender.send(byte(0)); // learn the session
  const session = frames[0]!.session;
  lies.push(
    encodeDeliveryFrame({ type: "ack", session, cumulative: 1000, window: 8, echo: 0, ranges: [] }),
    encodeDeliveryFrame({
      type: "ack",
      session,
      cumulative: 1,
      window: 8,
      echo: 0,
      ranges: [[5, 2 ** 50]],
    }),
    Uint8Array.of(1, 1, 2, 3),
    encodeDeliveryFrame({
      type: "ack",
      session: new Uint8Array(16),
      cumulative: 2,
      window: 8,
      echo: 1,
      ranges: [],
    }),
    encodeDeliveryFrame({
      type: "data",
      session,
      level: "none",
      base: 0,
      seq: 0,
      payload: new Uint8Array(),
    }),
  );
  const before = sender.stats;
  const second = sender.send(byte(1));
  for (let i = 0; i < 5 && lies.length < 5; i++) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(refused.map((e) => e.code), ["bad-ack"]);
  assert.equal(sender.stats.delivered, before.delivered, "the lie delivered nothing");
  assert.equal(sender.stats.queued, 1);
  // Feed the rest straight to the sender worker.
  for (const lie of lies.splice(0)) await node.send(sender.address, lie);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(refused.map((e) => e.code), [
    "bad-ack",
    "bad-ack",
    "truncated",
    "unknown-session",
    "unexpected-frame",
  ]);
  assert.ok(refused.every((e) => e instanceof SealrouteError));
  assert.equal(sender.stats.refused, 5);
  assert.equal(sender.stats.queued, 1, "no state changed");
  sender.kick(); // the honest answer now
  await second;
  await sender.close();
});

Deno.test("a lying sender (huge seq, bad base, malformed) is refused; the receiver keeps no state", async () => {
  await using node = new Node();
  const refused: string[] = [];
  const got: number[] = [];
  const receiver = startDeliveryReceiver(node, "inbox", {
    window: 16,
    onMessage: (m) => void got.push(num(m.payload)),
    onRefused: (e) => refused.push(e.code),
  });
  const session = new Uint8Array(16).fill(7);
  const data = (seq: number, base = 0) =>
    encodeDeliveryFrame({
      type: "data",
      session,
      level: "exactly-once",
      base,
      seq,
      payload: byte(seq),
    });
  await node.send("inbox", data(2 ** 52));
  await node.send("inbox", data(16));
  await node.send("inbox", Uint8Array.of(1, 0, 1));
  await node.send("inbox", encodeDeliveryFrame({ type: "reset", session, reason: "closed" }));
  await node.drained("inbox");
  assert.deepEqual(refused, ["out-of-window", "out-of-window", "truncated", "unexpected-frame"]);
  assert.equal(receiver.stats.sessions, 0, "no session for refused frames");
  await node.send("inbox", data(0));
  await node.send("inbox", data(20, 5)); // claims 5 delivered: never
  await node.send("inbox", data(2 ** 40));
  await node.drained("inbox");
  assert.deepEqual(refused.slice(4), ["bad-base", "out-of-window"]);
  assert.deepEqual(got, [0]);
  assert.equal(receiver.stats.held, 0);
  assert.equal(receiver.stats.sessions, 1);
});

Deno.test("a receiver that closes fails pending messages with peer-closed; a give-up time fails them too", async () => {
  await using node = new Node();
  let hold = true;
  const receiver = startDeliveryReceiver(node, "inbox", {
    onMessage: async () => {
      while (hold) await new Promise((r) => setTimeout(r, 2));
    },
  });
  const sender = createDeliverySender(node, { route: "inbox" });
  const first = sender.send(byte(0)).catch((e) => e);
  const second = sender.send(byte(1)).catch((e) => e);
  await new Promise((r) => setTimeout(r, 10));
  await receiver.close();
  hold = false;
  for (const p of [first, second]) {
    const e = await p;
    assert.ok(e instanceof DeliveryError && e.code === "peer-closed", String(e));
  }
  assert.equal((await sender.closed)?.code, "peer-closed");
  const late = await sender.send(byte(2)).catch((e) => e);
  assert.ok(late instanceof DeliveryError);

  node.startWorker("void", () => {});
  const doomed = createDeliverySender(node, {
    route: "void",
    giveUpAfter: 30,
    initialRto: 10,
    minRto: 5,
    until: "accepted",
  });
  await doomed.send(byte(0)); // accepted: the outbox has it
  const why = await doomed.closed;
  assert.ok(why instanceof DeliveryError && why.code === "gave-up");
  assert.equal(doomed.stats.failed, 1);
});

Deno.test("at-least-once hands a copy on again after a lost ack; exactly-once suppresses it", async () => {
  for (const level of ["at-least-once", "exactly-once"] as const) {
    await using node = new Node();
    const got: number[] = [];
    startDeliveryReceiver(node, "inbox", { onMessage: (m) => void got.push(num(m.payload)) });
    // A hop that loses the first acknowledgement.
    let acks = 0;
    node.startWorker("hop", (ctx) => {
      const m = ctx.message;
      const toReceiver = decodeDeliveryFrame(m.payload).type === "data";
      if (!toReceiver && acks++ === 0) return;
      return ctx.forward(m.with({
        onwardRoute: m.onwardRoute.popFront(),
        returnRoute: m.returnRoute.prepend(ctx.address),
      }));
    });
    await using sender = createDeliverySender(node, {
      route: ["hop", "inbox"],
      level,
      initialRto: 10,
      minRto: 5,
    });
    await sender.send(byte(9));
    assert.ok(sender.stats.retransmitted >= 1);
    if (level === "exactly-once") assert.deepEqual(got, [9]);
    else assert.ok(got.length >= 2 && got.every((n) => n === 9), String(got));
  }
});

Deno.test("level none: sent once, no outbox, resolves when the next hop took it", async () => {
  await using node = new Node();
  const got: number[] = [];
  const receiver = startDeliveryReceiver(node, "inbox", {
    onMessage: (m) => void got.push(num(m.payload)),
  });
  await using sender = createDeliverySender(node, { route: "inbox", level: "none" });
  for (let i = 0; i < 5; i++) await sender.send(byte(i));
  await node.drained("inbox");
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.equal(sender.stats.queued, 0);
  assert.equal(receiver.stats.sessions, 0, "no state at the receiver either");
});

Deno.test("a receiver that crashes and comes back (state lost) still gets every message the sender holds, in order", async () => {
  for (const kick of [true, false]) await crashAndBack(kick);
});

async function crashAndBack(kick: boolean): Promise<void> {
  await using node = new Node();
  const got: number[] = [];
  const start = () =>
    startDeliveryReceiver(node, "inbox", { onMessage: (m) => void got.push(num(m.payload)) });
  start();
  // A hop that loses the first copy of seq 0: the receiver holds 1..9 and says so.
  let lost = false;
  node.startWorker("hop", (ctx) => {
    const m = ctx.message;
    const frame = decodeDeliveryFrame(m.payload);
    if (frame.type === "data" && frame.seq === 0 && !lost) {
      lost = true;
      return;
    }
    return ctx.forward(m.with({
      onwardRoute: m.onwardRoute.popFront(),
      returnRoute: m.returnRoute.prepend(ctx.address),
    }));
  });
  await using sender = createDeliverySender(node, {
    route: ["hop", "inbox"],
    initialRto: 10_000, // no timeout before the crash
    minRto: 5,
    maxRto: 20,
  });
  const all = Promise.all(Array.from({ length: 10 }, (_, i) => sender.send(byte(i))));
  while (sender.stats.sent < 10) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [], "nothing before the hole is filled");
  await node.stopWorker("inbox"); // a crash: no reset, everything it held is gone
  start();
  // The owner knows the peer is back; without that, what it held goes again after a few
  // timeouts.
  if (kick) sender.kick();
  await all;
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], `kick: ${kick}`);
}

Deno.test("a session beyond maxSessions, or one whose messages cannot be handed on, fails its sender with peer-refused", async () => {
  await using node = new Node();
  const refused: string[] = [];
  const receiver = startDeliveryReceiver(node, "inbox", {
    maxSessions: 1,
    onMessage: () => {},
    onRefused: (e) => refused.push(e.code),
  });
  await using first = createDeliverySender(node, { route: "inbox" });
  await first.send(byte(1));
  const second = createDeliverySender(node, { route: "inbox" });
  const e = await second.send(byte(2)).catch((error) => error);
  assert.ok(e instanceof DeliveryError && e.code === "peer-refused", String(e));
  assert.deepEqual(refused, ["too-many-sessions"]);
  assert.equal(receiver.stats.sessions, 1);
  await first.send(byte(3)); // the admitted session goes on

  startDeliveryReceiver(node, "to-nowhere", { deliverTo: "nobody" });
  const third = createDeliverySender(node, { route: "to-nowhere" });
  const lost = await third.send(byte(4)).catch((error) => error);
  assert.ok(lost instanceof DeliveryError && lost.code === "peer-refused", String(lost));
});
