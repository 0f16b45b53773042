// The sequencing, acknowledgement and retransmission logic without I/O.
import assert from "node:assert/strict";
import { DeliveryError } from "../errors.ts";
import { Outbox } from "./_outbox.ts";
import { Reorder } from "./_reorder.ts";
import type { AckFrame } from "./wire.ts";

const session = new Uint8Array(16);
const limits = {
  maxMessages: 8,
  maxBytes: 100,
  initialWindow: 4,
  minRto: 10,
  maxRto: 1000,
  initialRto: 100,
};
const ack = (
  cumulative: number,
  window = 4,
  ranges: [number, number][] = [],
  echo = Math.max(0, cumulative - 1),
): AckFrame => ({ type: "ack", session, cumulative, window, echo, ranges });
const noop = () => {};

function filled(n: number, now = 0): Outbox {
  const o = new Outbox(limits);
  for (let i = 0; i < n; i++) {
    const e = o.add(new Uint8Array(10), noop, noop);
    o.sent(e, now);
  }
  return o;
}

Deno.test("outbox: bounded in messages and bytes; a lone large message still fits", () => {
  const o = new Outbox(limits);
  assert.ok(o.hasRoom(1000));
  o.add(new Uint8Array(1000), noop, noop);
  assert.ok(!o.hasRoom(1));
  const p = new Outbox(limits);
  for (let i = 0; i < 8; i++) p.add(new Uint8Array(1), noop, noop);
  assert.ok(!p.hasRoom(1), "count bound");
  assert.equal(p.highWaterCount, 8);
});

Deno.test("outbox: a cumulative ack delivers in order, frees room and opens the window", () => {
  const o = filled(6);
  assert.ok(o.inWindow(3) && !o.inWindow(4));
  const r = o.ack(ack(3, 2), 50);
  assert.deepEqual(r.delivered.map((e) => e.seq), [0, 1, 2]);
  assert.equal(o.base, 3);
  assert.equal(o.count, 3);
  assert.equal(o.bytes, 30);
  assert.ok(o.inWindow(4) && !o.inWindow(5), "the window the ack granted");
  // An older ack (reordered on the way) changes nothing.
  const stale = o.ack(ack(1, 8), 60);
  assert.ok(stale.stale);
  assert.equal(o.window, 2);
});

Deno.test("outbox: selective ranges mark held messages and report the holes below them", () => {
  const o = filled(6);
  const r = o.ack(ack(1, 8, [[3, 5]]), 10);
  assert.deepEqual(r.holes.map((e) => e.seq), [1, 2]);
  assert.ok(o.get(3)!.sacked && o.get(4)!.sacked && !o.get(5)!.sacked);
  // A timeout retransmits what is neither delivered nor held.
  assert.deepEqual(o.due(Infinity).map((e) => e.seq), [1, 2, 5]);
});

Deno.test("outbox: a lying ack is refused with bad-ack and changes nothing", () => {
  const o = filled(3);
  o.add(new Uint8Array(10), noop, noop); // seq 3, never sent
  const before = [o.base, o.count, o.bytes, o.window];
  const lies = [
    ack(5),
    ack(4),
    ack(1, 4, [[2, 5]]),
    ack(0, 4, [[3, 4]]),
    ack(1, 4, [], 3),
    ack(1, 4, [], 9),
  ];
  for (const lie of lies) {
    assert.throws(() => o.ack(lie, 0), (e) => e instanceof DeliveryError && e.code === "bad-ack");
    assert.deepEqual([o.base, o.count, o.bytes, o.window], before);
    assert.ok(!o.get(0)!.sacked && !o.get(1)!.sacked && !o.get(2)!.sacked);
  }
});

Deno.test("outbox: round trips set the timeout; timeouts back off; only once-sent messages sample", () => {
  const o = filled(2, 0);
  assert.equal(o.rto, 100);
  o.ack(ack(1), 40);
  assert.ok(o.rto >= 10 && o.rto <= 1000);
  const first = o.rto;
  o.backOff();
  assert.equal(o.rto, Math.min(1000, first * 2));
  o.resetBackoff();
  assert.equal(o.rto, first);
  const e = o.get(1)!;
  o.sent(e, 500); // a retransmission: its ack must not be taken as a 0 ms or 500 ms sample
  const srtt = o.srtt;
  o.ack(ack(2), 501);
  assert.equal(o.srtt, srtt);
});

Deno.test("reorder: in order, held, duplicates, window and byte bounds", () => {
  const r = new Reorder<null>({ window: 4, maxBytes: 25, start: 0 });
  const p = new Uint8Array(10);
  assert.equal(r.accept(1, 0, p, null), "held");
  assert.equal(r.accept(1, 0, p, null), "duplicate");
  assert.deepEqual(r.ranges(), [[1, 2]]);
  assert.throws(
    () => r.accept(4, 0, p, null),
    (e) => e instanceof DeliveryError && e.code === "out-of-window",
  );
  assert.throws(
    () => r.accept(2, 1, p, null),
    (e) => e instanceof DeliveryError && e.code === "bad-base",
  );
  assert.equal(r.accept(0, 0, p, null), "next");
  assert.throws(
    () => r.accept(3, 0, p, null),
    (e) => e instanceof DeliveryError && e.code === "buffer-full",
  );
  assert.equal(r.held, 2, "refused frames leave nothing behind");
  const ready = r.takeReady();
  assert.deepEqual(ready.map((x) => x.seq), [0, 1]);
  assert.equal(r.accept(1, 0, p, null), "duplicate", "taken but not yet delivered");
  r.markDelivered(0);
  r.markDelivered(1);
  assert.equal(r.delivered, 2);
  assert.equal(r.accept(0, 0, p, null), "delivered-duplicate");
  assert.equal(r.held, 0);
  assert.equal(r.bytes, 0);
  assert.ok(r.highWaterHeld <= 4 && r.highWaterBytes <= 25);
});

Deno.test("reorder: ranges are merged, ascending, and capped", () => {
  const r = new Reorder<null>({ window: 100, maxBytes: 1e6, start: 10 });
  for (const seq of [15, 12, 13, 20, 40]) r.accept(seq, 10, new Uint8Array(1), null);
  assert.deepEqual(r.ranges(), [[12, 14], [15, 16], [20, 21], [40, 41]]);
  for (let seq = 50; seq < 100; seq += 2) r.accept(seq, 10, new Uint8Array(1), null);
  assert.equal(r.ranges().length, 16);
});
