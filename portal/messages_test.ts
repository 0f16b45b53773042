import assert from "node:assert/strict";
import fc from "fast-check";
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import {
  decodePortalMessage,
  encodePortalMessage,
  MAX_PORTAL_PAYLOAD_SIZE,
  MAX_PORTAL_WINDOW,
  type PortalMessage,
} from "./messages.ts";
import vectors from "./testdata/ockam_portal_messages.json" with { type: "json" };

interface Vector {
  name: string;
  hex: string;
  message: { type: string; data?: string; counter?: number };
}

function expected(v: Vector): PortalMessage {
  const m = v.message;
  if (m.type === "payload") {
    return {
      type: "payload",
      data: fromHex(m.data!),
      ...(m.counter === undefined ? {} : { counter: m.counter }),
    };
  }
  return { type: m.type } as PortalMessage;
}

Deno.test("portal messages: Ockam's encodings, byte for byte", () => {
  for (const v of vectors.encode as Vector[]) {
    const message = expected(v);
    const bytes = message.type === "payload" && message.counter !== undefined
      ? encodePortalMessage(message)
      : encodePortalMessage(message);
    assert.equal(toHex(bytes), v.hex, v.name);
  }
  assert.equal(MAX_PORTAL_PAYLOAD_SIZE, vectors.maxPayloadSize);
});

Deno.test("portal messages: Ockam's bytes decode (Rust, Elixir, with and without counter)", () => {
  for (const v of [...vectors.decode, ...vectors.encode] as Vector[]) {
    assert.deepEqual(decodePortalMessage(fromHex(v.hex)), expected(v), v.name);
  }
});

Deno.test("portal messages: the extension is a tail Ockam's decoder ignores", () => {
  // Ockam reads only the first byte of Ping, Pong and Disconnect: the tails are invisible.
  const ping = encodePortalMessage({ type: "ping", window: 262144 });
  assert.equal(toHex(ping), "00535201808010");
  assert.equal(ping[0], 0);
  assert.deepEqual(decodePortalMessage(ping), { type: "ping", window: 262144 });
  const pong = encodePortalMessage({ type: "pong", window: 1 });
  assert.equal(toHex(pong), "0153520101");
  assert.deepEqual(decodePortalMessage(pong), { type: "pong", window: 1 });
  assert.equal(toHex(encodePortalMessage({ type: "disconnect", reason: "refused" })), "0201");
  assert.deepEqual(decodePortalMessage(fromHex("0202")), {
    type: "disconnect",
    reason: "target-unreachable",
  });
  assert.equal(toHex(encodePortalMessage({ type: "end" })), "20");
  assert.deepEqual(decodePortalMessage(fromHex("218004")), { type: "credit", bytes: 512 });
  assert.deepEqual(decodePortalMessage(fromHex("01")), { type: "pong" });
});

Deno.test("portal messages: hostile bytes fail with a typed error", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["04", "unknown-variant"],
    ["03", "truncated"],
    ["0305aabb", "truncated"],
    ["03ffffffffffffffffff01", "varint-overflow"],
    ["038000", "non-minimal-varint"],
    ["0209", "bad-reason"],
    ["21", "truncated"],
    ["2100", "bad-window"],
    ["21808080808001", "bad-window"], // 2^35 > MAX_PORTAL_WINDOW
    ["00535201", "truncated"],
    // Bytes Ockam's decoder would skip but no Ockam encoder writes (DECODING.md's rule).
    ["00ffff", "trailing-bytes"],
    ["0153520101ff", "trailing-bytes"],
    ["020100", "trailing-bytes"],
    ["03020505ff", "trailing-bytes"],
    ["030205050101", "trailing-bytes"],
    ["0302050502bbaa", "trailing-bytes"],
    ["2000", "trailing-bytes"],
    ["210100", "trailing-bytes"],
  ];
  for (const [hex, code] of cases) {
    assert.throws(
      () => decodePortalMessage(fromHex(hex)),
      (e) => e instanceof DecodeError && e.code === code,
      `${hex} -> ${code}`,
    );
  }
  assert.throws(
    () => encodePortalMessage({ type: "credit", bytes: MAX_PORTAL_WINDOW + 1 }),
    RangeError,
  );
  assert.throws(() => encodePortalMessage({ type: "ping", window: 0 }), RangeError);
});

Deno.test("portal messages: every message round-trips", () => {
  const message: fc.Arbitrary<PortalMessage> = fc.oneof(
    fc.constantFrom<PortalMessage>({ type: "ping" }, { type: "pong" }, { type: "end" }, {
      type: "disconnect",
    }),
    fc.record({
      type: fc.constantFrom("ping" as const, "pong" as const),
      window: fc.integer({ min: 1, max: MAX_PORTAL_WINDOW }),
    }),
    fc.record({
      type: fc.constant("credit" as const),
      bytes: fc.integer({ min: 1, max: MAX_PORTAL_WINDOW }),
    }),
    fc.record({
      type: fc.constant("disconnect" as const),
      reason: fc.constantFrom(
        "closed",
        "refused",
        "target-unreachable",
        "idle",
        "protocol",
        "limit",
      ),
    }),
    fc.record({ type: fc.constant("payload" as const), data: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({
      type: fc.constant("payload" as const),
      data: fc.uint8Array({ maxLength: 300 }),
      counter: fc.integer({ min: 0, max: 0xffff }),
    }),
  );
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(decodePortalMessage(encodePortalMessage(m)), { ...m });
    }),
    { numRuns: 500 },
  );
});
