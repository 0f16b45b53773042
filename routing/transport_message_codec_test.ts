import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
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
    ["huge count", [1, 0xff, 0xff, 0xff, 0xff, 0x0f], "truncated"],
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
