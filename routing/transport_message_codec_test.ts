import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import { encodeVarint } from "./bare.ts";
import { message, sameMessage } from "./_arbitraries_test.ts";
import { Route } from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";
import { decodeTransportMessage, encodeTransportMessage } from "./transport_message_codec.ts";

Deno.test("encoder writes version 1, BARE routes, data and a trailing 0x00", () => {
  const m = new RoutedMessage({
    onwardRoute: ["1#h:1", "echo"],
    returnRoute: "app",
    payload: new Uint8Array([9, 8]),
  });
  const bytes = encodeTransportMessage(m);
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  assert.deepEqual([...bytes], [
    1,
    2,
    1,
    3,
    ...enc("h:1"),
    0,
    4,
    ...enc("echo"),
    1,
    0,
    3,
    ...enc("app"),
    2,
    9,
    8,
    0,
  ]);
});

Deno.test("decoder accepts v1 without the option byte, v1/v2 with tracing, and the heartbeat", () => {
  const v1Bare = new Uint8Array([1, 1, 0, 1, 0x61, 0, 1, 7]);
  assert.ok(decodeTransportMessage(v1Bare).onwardRoute.equals(Route.from("a")));
  const tracing = [...new TextEncoder().encode("{}")];
  const v2 = new Uint8Array([2, 1, 0, 1, 0x61, 0, 1, 7, 1, 2, ...tracing]);
  assert.equal(decodeTransportMessage(v2).payload[0], 7);
  const v1t = new Uint8Array([1, 1, 0, 1, 0x61, 0, 1, 7, 1, 2, ...tracing]);
  assert.equal(decodeTransportMessage(v1t).payload[0], 7);
  assert.ok(decodeTransportMessage(new Uint8Array([2, 0, 0, 0, 0])).onwardRoute.isEmpty);
});

Deno.test("decoder rejects bad versions, truncation, bad options, trailing bytes, huge counts", () => {
  const cases: [string, number[], string][] = [
    ["version 3", [3, 0, 0, 0, 0], "bad-version"],
    ["v2 without option", [2, 0, 0, 0], "truncated"],
    ["option 2", [1, 0, 0, 0, 2], "bad-option"],
    ["trailing", [1, 0, 0, 0, 0, 0], "trailing-bytes"],
    ["huge count", [1, 0xff, 0xff, 0xff, 0xff, 0x0f], "route-too-long"],
    ["count past the input", [1, 9, 0, 0, 0, 0], "truncated"],
    ["huge data", [1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f], "truncated"],
    ["bad tracing utf8", [2, 0, 0, 0, 1, 1, 0xff], "bad-utf8"],
    ["empty", [], "truncated"],
  ];
  for (const [name, bytes, code] of cases) {
    assert.throws(
      () => decodeTransportMessage(new Uint8Array(bytes)),
      (e) => e instanceof DecodeError && e.code === code,
      name,
    );
  }
});

Deno.test("BARE TransportMessage round-trips random messages", () => {
  fc.assert(
    fc.property(message, (m) => sameMessage(decodeTransportMessage(encodeTransportMessage(m)), m)),
    { numRuns: 300 },
  );
});

Deno.test("random bytes into the BARE decoder give a message or a DecodeError", () => {
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array([1, ...b])),
    fc.tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, at, byte]) => {
      const b = encodeTransportMessage(m);
      b[at % b.length] = byte;
      return b;
    }),
  );
  fc.assert(
    fc.property(arb, (bytes) => {
      try {
        return decodeTransportMessage(bytes) instanceof RoutedMessage;
      } catch (e) {
        return e instanceof DecodeError;
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("a route longer than maxRouteLength (default 64) is refused from its count", () => {
  const route = (n: number) => [...encodeVarint(n), ...new Array(n).fill([0, 0]).flat()];
  const frame = (onward: number, ret: number) =>
    new Uint8Array([1, ...route(onward), ...route(ret), 0, 0]);
  assert.equal(decodeTransportMessage(frame(64, 64)).returnRoute.length, 64);
  for (const [onward, ret] of [[65, 0], [0, 65]]) {
    assert.throws(() => decodeTransportMessage(frame(onward!, ret!)), { code: "route-too-long" });
  }
  assert.throws(() => decodeTransportMessage(frame(3, 0), { maxRouteLength: 2 }), {
    code: "route-too-long",
  });
  // 125,000 addresses (the count that broke Route.from) decode when the bound allows them.
  const many = decodeTransportMessage(frame(0, 125_000), { maxRouteLength: 125_000 });
  assert.equal(many.returnRoute.prepend("x").length, 125_001);
  // The count is checked before anything else of the route: a count of 2^32 in a
  // 10-byte frame is route-too-long, not an allocation.
  const huge = new Uint8Array([1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0]);
  assert.throws(() => decodeTransportMessage(huge), { code: "route-too-long" });
});

Deno.test("an address longer than maxAddressLength (default 1024) is refused", () => {
  const frame = (length: number) => {
    const m = new RoutedMessage({ onwardRoute: [new Address(0, new Uint8Array(length))] });
    return encodeTransportMessage(m);
  };
  assert.equal(decodeTransportMessage(frame(1024)).onwardRoute.next!.value.length, 1024);
  assert.throws(() => decodeTransportMessage(frame(1025)), { code: "address-too-long" });
  assert.throws(() => decodeTransportMessage(frame(11), { maxAddressLength: 10 }), {
    code: "address-too-long",
  });
  const decoded = decodeTransportMessage(frame(4000), { maxAddressLength: 4000 });
  assert.equal(decoded.onwardRoute.next!.value.length, 4000);
});

Deno.test("decoded addresses and payloads are copies, never views of the frame", () => {
  const m = new RoutedMessage({ onwardRoute: "echo", payload: new Uint8Array(2000).fill(3) });
  const frame = encodeTransportMessage(m);
  const decoded = decodeTransportMessage(frame);
  assert.notEqual(decoded.onwardRoute.next!.value.buffer, frame.buffer);
  assert.notEqual(decoded.payload.buffer, frame.buffer);
});

// DECODING.md, BARE TransportMessage: what Ockam's decoder accepts beyond what its encoder
// writes, and what Sealroute does with each.
Deno.test("decoding policy: BARE TransportMessage", () => {
  const accepted: [string, number[]][] = [
    ["v1 without the option byte (Ockam's TransportMessageV1)", [1, 0, 0, 0]],
    ["v1 with a tracing context (LocalMessage::into_transport_message)", [1, 0, 0, 0, 1, 1, 0x7b]],
    ["v2 with no tracing", [2, 0, 0, 0, 0]],
    ["address values that are not UTF-8", [1, 1, 0, 1, 0xff, 0, 0, 0]],
  ];
  for (const [name, bytes] of accepted) {
    assert.ok(decodeTransportMessage(new Uint8Array(bytes)) instanceof RoutedMessage, name);
  }
  const refused: [string, number[], string][] = [
    ["non-minimal varint count (Ockam accepts)", [1, 0x80, 0x00, 0, 0, 0], "non-minimal-varint"],
    [
      "non-minimal varint length (Ockam accepts)",
      [1, 0, 0, 0x81, 0x00, 7, 0],
      "non-minimal-varint",
    ],
    ["trailing bytes after v2 (Ockam ignores them)", [2, 0, 0, 0, 0, 9], "trailing-bytes"],
    ["trailing bytes after v1 (Ockam ignores them)", [1, 0, 0, 0, 0, 0], "trailing-bytes"],
    ["v2 without the option byte (Ockam reads none)", [2, 0, 0, 0], "truncated"],
    ["option tag 2 (Ockam reads none)", [2, 0, 0, 0, 2], "bad-option"],
    ["tracing not UTF-8 (Ockam drops it)", [2, 0, 0, 0, 1, 1, 0xff], "bad-utf8"],
    ["version 0", [0, 0, 0, 0, 0], "bad-version"],
  ];
  for (const [name, bytes, code] of refused) {
    assert.throws(() => decodeTransportMessage(new Uint8Array(bytes)), { code }, name);
  }
});
