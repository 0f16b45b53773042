// A receiver worker stopped (as a crash would: no reset to its senders) and started again
// with the same `state` store: it knows the sender's session, suppresses what it delivered
// before, and the sender goes on in the same session. Without the store, the same run
// delivers copies: the test shows both.
import assert from "node:assert/strict";
import { DeliveryError } from "../errors.ts";
import { Node, type WorkerContext } from "../routing/mod.ts";
import {
  createDeliverySender,
  type DeliveredMessage,
  type DeliveryReceiver,
  MemoryDeliveryReceiverState,
  startDeliveryReceiver,
} from "./mod.ts";
import { decodeDeliveryFrame } from "./wire.ts";

const u16 = (n: number) => Uint8Array.of(n & 0xff, n >> 8);
const num = (b: Uint8Array) => b[0]! | (b[1]! << 8);

/**
 * A hop between sender and receiver (route `["hop", "inbox"]`): passes frames both ways,
 * drops what `drop` says, and drops everything for a receiver that is not running.
 */
function hop(node: Node, drop: (frame: ReturnType<typeof decodeDeliveryFrame>) => boolean) {
  node.startWorker("hop", async (ctx: WorkerContext) => {
    const m = ctx.message;
    const onward = m.onwardRoute.popFront();
    const next = onward.next;
    if (!next || !node.hasWorker(next)) return;
    if (drop(decodeDeliveryFrame(m.payload))) return;
    await node.deliver(m.with({ onwardRoute: onward, returnRoute: m.returnRoute.prepend("hop") }))
      .catch(() => {});
  });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 4000) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** 200 messages; the receiver stops past 50 delivered (acks lost from 50 on), restarts. */
async function run(state: MemoryDeliveryReceiverState | undefined) {
  await using node = new Node();
  const got: number[] = [];
  let ackLoss = false;
  let gap = false;
  let firstCopies = new Set<number>();
  hop(node, (frame) => {
    if (frame.type === "ack") return ackLoss;
    // After the restart: the first copy of every 7th message is lost (gaps, filled later).
    if (frame.type === "data" && gap && frame.seq % 7 === 0 && !firstCopies.has(frame.seq)) {
      firstCopies.add(frame.seq);
      return true;
    }
    return false;
  });
  const onMessage = (m: DeliveredMessage) => {
    got.push(num(m.payload));
    if (got.length === 50) ackLoss = true;
  };
  const options = { onMessage, window: 16, ...(state ? { state } : {}) };
  const first = startDeliveryReceiver(node, "inbox", options);
  const sender = createDeliverySender(node, { route: ["hop", "inbox"], initialRto: 50 });
  const sent = Array.from({ length: 200 }, (_, i) => sender.send(u16(i)));
  sent.forEach((p) => p.catch(() => {})); // awaited below; a hang guard must not leave them
  // Acknowledgements lost from 50 on: the window (16) stops the sender; all it sent delivered.
  await until("past 50", () => got.length > 50 && got.length === sender.stats.highestSent + 1);
  await node.stopWorker("inbox"); // a crash: no reset
  const firstStats = first.stats;
  ackLoss = false;
  gap = true;
  firstCopies = new Set();
  const second: DeliveryReceiver = startDeliveryReceiver(node, "inbox", options);
  sender.kick();
  await Promise.all(sent);
  await sender.close();
  assert.equal(await sender.closed, undefined);
  return { got, firstStats, second: second.stats, sender: sender.stats };
}

Deno.test("a receiver restarted with its store delivers every message once: the sender goes on", async () => {
  const state = new MemoryDeliveryReceiverState();
  const { got, second, sender } = await run(state);
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i), "each once, in order");
  assert.equal(second.restored, 1, "the restarted receiver knew the session");
  assert.ok(second.highWaterHeld > 1, "gaps after the restart: held until filled");
  assert.ok(second.duplicates > 0, "copies of what it delivered before came, and were dropped");
  assert.equal(sender.delivered, 200);
  assert.equal(state.load()[0]!.delivered, 200, "the record: all 200 delivered");
});

Deno.test("without a store the same restart delivers copies (at-least-once across it)", async () => {
  const { got, second } = await run(undefined);
  assert.equal(second.restored, 0);
  assert.equal(new Set(got).size, 200, "nothing lost");
  assert.ok(got.length > 200, "but what the lost acknowledgements covered came twice");
});

Deno.test("commit inside onMessage writes the record before onMessage returns", async () => {
  await using node = new Node();
  const state = new MemoryDeliveryReceiverState();
  const seen: number[] = [];
  startDeliveryReceiver(node, "inbox", {
    state,
    onMessage: (m) => {
      assert.equal(state.load()[0]?.delivered ?? 0, m.seq, "not recorded before");
      m.commit();
      m.commit(); // once only
      seen.push(state.load()[0]!.delivered);
    },
  });
  await using sender = createDeliverySender(node, { route: "inbox" });
  for (let i = 0; i < 3; i++) await sender.send(u16(i));
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("a store that fails to write resets the session: the sender is told, nothing acknowledged", async () => {
  await using node = new Node();
  const state = new MemoryDeliveryReceiverState();
  let broken = false;
  const failing = {
    load: () => state.load(),
    save: (r: Parameters<typeof state.save>[0]) => {
      if (broken) throw new Error("disk full");
      state.save(r);
    },
    delete: (peer: string, session: string) => state.delete(peer, session),
  };
  const receiver = startDeliveryReceiver(node, "inbox", { state: failing, onMessage: () => {} });
  const sender = createDeliverySender(node, { route: ["hop", "inbox"] });
  hop(node, () => false);
  await sender.send(u16(0));
  broken = true;
  const error = await sender.send(u16(1)).catch((e) => e);
  assert.ok(error instanceof DeliveryError && error.code === "peer-refused", String(error));
  assert.equal(receiver.stats.sessions, 0);
  assert.equal(state.size, 0, "the reset session's record is gone");
});

Deno.test("restored sessions are bounded: idle ones expire, at most maxSessions come back", async () => {
  await using node = new Node();
  const state = new MemoryDeliveryReceiverState();
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    state.save({
      peer: "",
      session: i.toString(16).padStart(32, "0"),
      level: "exactly-once",
      delivered: i,
      lastActive: i === 5 ? now - 10_000_000 : now - i,
    });
  }
  const receiver = startDeliveryReceiver(node, "inbox", {
    state,
    maxSessions: 3,
    sessionIdleTimeout: 1_000_000,
    onMessage: () => {},
  });
  assert.equal(receiver.stats.restored, 3);
  assert.equal(receiver.stats.sessions, 3);
  assert.deepEqual(state.load().map((r) => r.delivered).sort(), [0, 1, 2], "the most recent");
  // A new sender beyond maxSessions is refused and leaves no record.
  const sender = createDeliverySender(node, { route: ["hop", "inbox"] });
  hop(node, () => false);
  const refused = await sender.send(u16(1)).catch((e) => e);
  assert.ok(refused instanceof DeliveryError && refused.code === "peer-refused");
  assert.equal(state.size, 3);
  // A store whose contents lie is refused at start, with a typed error.
  const lying = { load: () => [{ peer: 1 }] as never, save: () => {}, delete: () => {} };
  assert.throws(
    () => startDeliveryReceiver(node, "other", { state: lying, onMessage: () => {} }),
    (e) => e instanceof DeliveryError && e.code === "bad-state",
  );
  assert.ok(!node.hasWorker("other"));
});
