import assert from "node:assert/strict";
import { DecodeError } from "../errors.ts";
import {
  decodeDeliveryFrame,
  type DeliveryFrame,
  encodeDeliveryFrame,
  MAX_SACK_RANGES,
} from "./wire.ts";

const session = Uint8Array.from({ length: 16 }, (_, i) => i);

Deno.test("every frame type round-trips", () => {
  const frames: DeliveryFrame[] = [
    {
      type: "data",
      session,
      level: "exactly-once",
      base: 3,
      seq: 2 ** 53 - 1,
      payload: Uint8Array.of(1, 2, 3),
    },
    { type: "data", session, level: "none", base: 0, seq: 0, payload: new Uint8Array() },
    { type: "ack", session, cumulative: 7, window: 64, echo: 12, ranges: [[7, 9], [12, 13]] },
    { type: "ack", session, cumulative: 0, window: 1, echo: 0, ranges: [] },
    { type: "reset", session, reason: "closed" },
    { type: "reset", session, reason: "refused" },
  ];
  for (const frame of frames) {
    assert.deepEqual(decodeDeliveryFrame(encodeDeliveryFrame(frame)), frame);
  }
});

Deno.test("the decoder refuses malformed frames with a DecodeError code", () => {
  const ack = (cumulative: number, window: number, ranges: [number, number][]) => {
    const bytes = [1, 1, ...session, cumulative, window, 0, ranges.length];
    for (const [a, b] of ranges) bytes.push(a, b);
    return Uint8Array.from(bytes);
  };
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(), "truncated"],
    [Uint8Array.of(2, 0), "bad-version"],
    [Uint8Array.of(1, 3), "bad-type"],
    [Uint8Array.of(1, 0, ...session.subarray(0, 5)), "truncated"],
    [Uint8Array.of(1, 0, ...session, 3, 0, 0), "bad-level"],
    [Uint8Array.of(1, 0, ...session, 2, 5, 4), "bad-seq"],
    [Uint8Array.of(1, 2, ...session, 9), "bad-reason"],
    [Uint8Array.of(1, 2, ...session, 0, 0), "trailing-bytes"],
    [ack(1, 0, []), "bad-window"],
    [ack(4, 8, [[3, 5]]), "bad-range"],
    [ack(4, 8, [[5, 5]]), "bad-range"],
    [ack(4, 8, [[5, 7], [7, 9]]), "bad-range"],
    [ack(4, 8, [[8, 9], [5, 6]]), "bad-range"],
    [Uint8Array.of(1, 1, ...session, 0, 1, 0, MAX_SACK_RANGES + 1), "too-many-ranges"],
    // A varint of 2^63: above 2^53 - 1.
    [
      Uint8Array.of(
        1,
        0,
        ...session,
        2,
        0,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        1,
      ),
      "too-large",
    ],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(
      () => decodeDeliveryFrame(bytes),
      (e) => e instanceof DecodeError && e.code === code,
      `expected ${code} for ${bytes}`,
    );
  }
  assert.throws(
    () => decodeDeliveryFrame(new Uint8Array(100), { maxFrameBytes: 99 }),
    (e) => e instanceof DecodeError && e.code === "too-large",
  );
});

Deno.test("a DATA frame's payload is a view of the frame, not a copy", () => {
  const bytes = encodeDeliveryFrame({
    type: "data",
    session,
    level: "at-least-once",
    base: 0,
    seq: 1,
    payload: new Uint8Array(1000).fill(9),
  });
  const frame = decodeDeliveryFrame(bytes);
  assert.ok(frame.type === "data" && frame.payload.buffer === bytes.buffer);
});
