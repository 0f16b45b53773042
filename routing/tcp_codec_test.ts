import assert from "node:assert/strict";
import { decode as cborDecode, encode as cborEncode } from "cborg";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { message, sameMessage } from "./_arbitraries_test.ts";
import { Route } from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";
import { Address } from "./address.ts";
import {
  DECODE_OPTIONS,
  decodeTcpMessage,
  encodeTcpMessage,
  ownedBytes,
  readTcpBody,
  routeFromCbor,
} from "./tcp_codec.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));

Deno.test("route ['onward'] encodes as 81 82 00 46 6f6e77617264 (OCKAM_WIRE §1)", () => {
  const bytes = encodeTcpMessage(
    new RoutedMessage({ onwardRoute: "onward", payload: new Uint8Array([1]) }),
  );
  assert.equal(hex(bytes), "83" + "818200466f6e77617264" + "80" + "4101");
});

Deno.test("TCP body equals cborg's encoding of the same structure", () => {
  fc.assert(
    fc.property(message, (m) => {
      const viaCborg = cborEncode([
        [...m.onwardRoute].map((a) => [a.type, a.value]),
        [...m.returnRoute].map((a) => [a.type, a.value]),
        m.payload,
      ]);
      return hex(viaCborg) === hex(encodeTcpMessage(m));
    }),
    { numRuns: 200 },
  );
});

Deno.test("TCP codec round-trips random messages", () => {
  fc.assert(fc.property(message, (m) => sameMessage(decodeTcpMessage(encodeTcpMessage(m)), m)), {
    numRuns: 300,
  });
});

Deno.test("length prefix is the body's u32 big-endian length", () => {
  const m = new RoutedMessage({ onwardRoute: ["a", "1#h:1"], payload: new Uint8Array(300) });
  const body = encodeTcpMessage(m);
  const framed = encodeTcpMessage(m, { lengthPrefix: true });
  assert.equal(new DataView(framed.buffer).getUint32(0), body.length);
  assert.equal(hex(framed.subarray(4)), hex(body));
});

Deno.test("decoder accepts a 4th tracing element, text or null", () => {
  const route = [[0, new TextEncoder().encode("echo")]];
  for (const tracing of ['{"traceparent":"00-1-2-01"}', null]) {
    const m = decodeTcpMessage(cborEncode([route, [], new Uint8Array([9]), tracing]));
    assert.ok(m.onwardRoute.equals(Route.from("echo")));
    assert.equal(m.payload[0], 9);
  }
});

Deno.test("decoder rejects wrong shapes, trailing bytes and non-minimal CBOR", () => {
  const bad: [string, Uint8Array][] = [
    ["two elements", cborEncode([[], []])],
    ["five elements", cborEncode([[], [], new Uint8Array(), null, 1])],
    ["text payload", cborEncode([[], [], "x"])],
    ["address of 3", cborEncode([[[0, new Uint8Array(), 1]], [], new Uint8Array()])],
    ["type 256", cborEncode([[[256, new Uint8Array()]], [], new Uint8Array()])],
    ["tracing number", cborEncode([[], [], new Uint8Array(), 5])],
    ["map", cborEncode(new Map([[1, 2]]))],
    ["trailing", unhex("838080400000")],
    ["non-minimal uint", unhex("83818218000080" + "40")],
    ["indefinite array", unhex("9f808040ff")],
    ["huge bstr length", unhex("8380805a7fffffff00")],
    ["huge array length", unhex("9b00ffffffffffffff")],
    ["empty", new Uint8Array()],
  ];
  for (const [name, bytes] of bad) {
    assert.throws(() => decodeTcpMessage(bytes), (e) => e instanceof DecodeError, name);
  }
});

Deno.test("deeply nested CBOR gives a DecodeError", () => {
  const bytes = new Uint8Array(200_000).fill(0x81);
  assert.throws(() => decodeTcpMessage(bytes), (e) => e instanceof DecodeError);
});

Deno.test("random bytes into the TCP decoder give a message or a DecodeError", () => {
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // mutate valid encodings so the decoder gets deep into the structure
    fc.tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, at, byte]) => {
      const b = encodeTcpMessage(m);
      if (b.length > 0) b[at % b.length] = byte;
      return b;
    }),
  );
  fc.assert(
    fc.property(arb, (bytes) => {
      try {
        return decodeTcpMessage(bytes) instanceof RoutedMessage;
      } catch (e) {
        return e instanceof DecodeError;
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("long payloads decode as views of an owned frame, short ones as copies", () => {
  const big = new RoutedMessage({ onwardRoute: "a", payload: new Uint8Array(4096).fill(5) });
  const frame = ownedBytes(encodeTcpMessage(big));
  const decoded = decodeTcpMessage(frame);
  assert.equal(decoded.payload.buffer, frame.buffer, "a 4 KiB payload is a view, not a copy");
  assert.equal(decoded.payload.length, 4096);
  assert.notEqual(decoded.onwardRoute.next!.value.buffer, frame.buffer, "addresses are copied");
  const plain = decodeTcpMessage(encodeTcpMessage(big));
  assert.equal(plain.payload.length, 4096);
});

// A TCP body with `count` empty local addresses as its return route.
function longReturnRoute(count: number): Uint8Array {
  const head = count < 24
    ? [0x80 | count]
    : count < 0x100
    ? [0x98, count]
    : count < 0x10000
    ? [0x99, count >> 8, count & 0xff]
    : [0x9a, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff];
  const out = new Uint8Array(2 + head.length + 3 * count + 1);
  out.set([0x83, 0x80, ...head]);
  for (let i = 0, at = 2 + head.length; i < count; i++, at += 3) out.set([0x82, 0x00, 0x40], at);
  out[out.length - 1] = 0x40;
  return out;
}

Deno.test("a route longer than maxRouteLength (default 64) is refused from its header", () => {
  assert.equal(decodeTcpMessage(longReturnRoute(64)).returnRoute.length, 64);
  assert.throws(() => decodeTcpMessage(longReturnRoute(65)), { code: "route-too-long" });
  assert.throws(() => decodeTcpMessage(longReturnRoute(3), { maxRouteLength: 2 }), {
    code: "route-too-long",
  });
  // The header alone decides: 2^32 - 1 addresses announced in an 8-byte body.
  assert.throws(() => decodeTcpMessage(unhex("83809affffffff40")), { code: "route-too-long" });
  // 125,000 addresses (the count whose spread broke Route.from) decode when allowed, and
  // the route can be extended like any other.
  const m = decodeTcpMessage(longReturnRoute(125_000), { maxRouteLength: 125_000 });
  assert.equal(m.returnRoute.prepend("tcp-sender").length, 125_001);
  assert.equal(m.with({ returnRoute: m.returnRoute.append("x") }).returnRoute.length, 125_001);
});

Deno.test("a long route is refused on its header, before any address is read", () => {
  const frame = longReturnRoute(5_000_000); // 15 MB
  assert.throws(() => decodeTcpMessage(frame), { code: "route-too-long" });
  // The same header with the addresses cut off: had the decoder walked them first, this
  // would be a truncation error.
  assert.throws(() => decodeTcpMessage(frame.subarray(0, 16)), { code: "route-too-long" });
});

Deno.test("an address longer than maxAddressLength (default 1024) is refused", () => {
  const frame = (length: number) =>
    encodeTcpMessage(
      new RoutedMessage({
        onwardRoute: "a",
        returnRoute: [new Address(1, new Uint8Array(length))],
      }),
    );
  assert.equal(decodeTcpMessage(frame(1024)).returnRoute.next!.value.length, 1024);
  assert.throws(() => decodeTcpMessage(frame(1025)), { code: "address-too-long" });
  assert.throws(() => decodeTcpMessage(frame(9), { maxAddressLength: 8 }), {
    code: "address-too-long",
  });
  assert.equal(
    decodeTcpMessage(frame(5000), { maxAddressLength: 5000 }).returnRoute.next!.value.length,
    5000,
  );
});

Deno.test("addresses are copies even at the longest length an owned frame views", () => {
  const value = new Uint8Array(1024).fill(7);
  const m = new RoutedMessage({ onwardRoute: [new Address(0, value)], payload: new Uint8Array(9) });
  const frame = ownedBytes(encodeTcpMessage(m));
  const decoded = decodeTcpMessage(frame);
  assert.notEqual(decoded.onwardRoute.next!.value.buffer, frame.buffer);
  assert.deepEqual(decoded.onwardRoute.next!.value, value);
});

Deno.test("routeFromCbor (the secure channel's route reader) applies the same bounds", () => {
  const address = [0, new Uint8Array(1)];
  assert.equal(routeFromCbor(new Array(64).fill(address), "onward").length, 64);
  assert.throws(() => routeFromCbor(new Array(65).fill(address), "onward"), {
    code: "route-too-long",
  });
  assert.throws(() => routeFromCbor([[0, new Uint8Array(1025)]], "onward"), {
    code: "address-too-long",
  });
  assert.equal(routeFromCbor(new Array(65).fill(address), "x", { maxRouteLength: 65 }).length, 65);
});

Deno.test("readTcpBody reads a body inside a larger buffer, with or without tracing", () => {
  const body = encodeTcpMessage(new RoutedMessage({ onwardRoute: "echo", returnRoute: "app" }));
  const framed = new Uint8Array([0xaa, ...body, 0xbb]);
  const { message, end } = readTcpBody(framed, 1, { tracing: false });
  assert.equal(end, 1 + body.length);
  assert.equal(message.returnRoute.toString(), "app");
  const withTracing = cborEncode([[], [], new Uint8Array(), null]);
  assert.equal(readTcpBody(withTracing, 0).end, withTracing.length);
  assert.throws(() => readTcpBody(withTracing, 0, { tracing: false }), { code: "bad-shape" });
});

// The strict decoder this codec used before it read routes by hand: cborg with the shared
// strict options, then shape checks. Both must agree on every input but the documented
// differences (bounds; UTF-8 in the tracing context, which cborg does not check).
function reference(bytes: Uint8Array): RoutedMessage {
  let value: unknown;
  try {
    value = cborDecode(bytes, DECODE_OPTIONS);
  } catch (error) {
    throw new DecodeError("bad-cbor", String(error));
  }
  if (!Array.isArray(value) || (value.length !== 3 && value.length !== 4)) {
    throw new DecodeError("bad-shape", "array");
  }
  const [onward, ret, payload, tracing] = value as unknown[];
  if (!(payload instanceof Uint8Array)) throw new DecodeError("bad-shape", "payload");
  if (tracing !== undefined && tracing !== null && typeof tracing !== "string") {
    throw new DecodeError("bad-shape", "tracing");
  }
  const limits = { maxRouteLength: 1e9, maxAddressLength: 1e9 };
  return new RoutedMessage({
    onwardRoute: routeFromCbor(onward, "onward", limits),
    returnRoute: routeFromCbor(ret, "return", limits),
    payload,
  });
}

Deno.test("the hand-written decoder accepts exactly what strict cborg decoding accepts", () => {
  const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 });
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 60 }),
    fc.uint8Array({ maxLength: 60 }).map((b) => new Uint8Array([0x83, ...b])),
    fc.tuple(message, edits, fc.nat(8)).map(([m, changes, cut]) => {
      const b = encodeTcpMessage(m).slice(0, cut === 0 ? undefined : -cut);
      for (const [at, byte] of changes) if (b.length > 0) b[at % b.length] = byte;
      return b;
    }),
  );
  const outcome = (decode: () => RoutedMessage): string => {
    try {
      const m = decode();
      return `ok ${m.onwardRoute} | ${m.returnRoute} | ${hex(m.payload)}`;
    } catch (error) {
      assert.ok(error instanceof DecodeError, String(error));
      return "refused";
    }
  };
  const limits = { maxRouteLength: 1e9, maxAddressLength: 1e9 };
  fc.assert(
    fc.property(arb, (bytes) => {
      // cborg decodes invalid UTF-8 text leniently; tracing text must be UTF-8 here.
      const ours = outcome(() => decodeTcpMessage(bytes, limits));
      const theirs = outcome(() => reference(bytes));
      if (ours === theirs) return true;
      return ours === "refused" && /tracing/.test(errorOf(() => decodeTcpMessage(bytes, limits)));
    }),
    { numRuns: 2000 },
  );
});

function errorOf(f: () => unknown): string {
  try {
    f();
    return "";
  } catch (error) {
    return String(error);
  }
}

// DECODING.md, TCP routed message: what Ockam (minicbor) accepts beyond what it writes,
// and what Sealroute does with each.
Deno.test("decoding policy: TCP routed message", () => {
  const accepted: [string, string][] = [
    ["3 elements (no tracing context)", "838080" + "40"],
    ["4th element null", "848080" + "40" + "f6"],
    ["4th element text (Ockam's OpenTelemetry JSON)", "848080" + "40" + "627b7d"],
    ["transport type 255 in two bytes", "8381" + "8218ff40" + "80" + "40"],
    ["address values that are not UTF-8", "8381" + "820041ff" + "80" + "40"],
  ];
  for (const [name, bytes] of accepted) {
    assert.ok(decodeTcpMessage(unhex(bytes)) instanceof RoutedMessage, name);
  }
  const refused: [string, string, string][] = [
    [
      "non-minimal integer: type 0 as 18 00 (minicbor accepts)",
      "8381" + "82180040" + "8040",
      "bad-cbor",
    ],
    ["non-minimal length: array 98 03 (minicbor accepts)", "9803" + "8080" + "40", "bad-cbor"],
    ["non-minimal length: bstr 58 01 (minicbor accepts)", "838080" + "580107", "bad-cbor"],
    ["indefinite route array (minicbor's derive accepts)", "83" + "9fff" + "80" + "40", "bad-cbor"],
    ["indefinite payload bytes (minicbor refuses too)", "838080" + "5f4107ff", "bad-cbor"],
    ["trailing bytes (minicbor::decode ignores them)", "838080" + "40" + "00", "bad-cbor"],
    ["unknown 5th field (minicbor's derive skips it)", "858080" + "40f6" + "01", "bad-shape"],
    ["tracing context not UTF-8 (minicbor refuses too)", "848080" + "40" + "61ff", "bad-cbor"],
    ["tracing context a number", "848080" + "40" + "05", "bad-shape"],
    ["tag around the payload", "838080" + "c240", "bad-shape"],
    ["address of three elements", "8381" + "83004000" + "80" + "40", "bad-shape"],
    ["transport type 256", "8381" + "8219010040" + "80" + "40", "bad-shape"],
    ["negative transport type", "8381" + "822040" + "80" + "40", "bad-shape"],
    ["float where a length belongs", "8381" + "8200" + "fb0000000000000000" + "8040", "bad-shape"],
    ["reserved additional info 28", "83" + "9c" + "8040", "bad-cbor"],
  ];
  for (const [name, bytes, code] of refused) {
    assert.throws(() => decodeTcpMessage(unhex(bytes)), { code }, name);
  }
});

Deno.test("decoded routes are shared between messages with the same routes, never mixed up", () => {
  const a = encodeTcpMessage(new RoutedMessage({ onwardRoute: ["a", "b"], returnRoute: "r" }));
  const b = encodeTcpMessage(new RoutedMessage({ onwardRoute: ["a", "c"], returnRoute: "r" }));
  const first = decodeTcpMessage(a);
  const again = decodeTcpMessage(a.slice());
  const other = decodeTcpMessage(b);
  assert.equal(again.onwardRoute, first.onwardRoute, "the same bytes give the same Route");
  assert.equal(other.returnRoute, first.returnRoute);
  assert.notEqual(other.onwardRoute, first.onwardRoute);
  assert.equal(other.onwardRoute.toString(), "a => c");
  assert.equal(first.onwardRoute.toString(), "a => b");
  assert.equal(
    decodeTcpMessage(encodeTcpMessage(new RoutedMessage({ onwardRoute: "a" })))
      .returnRoute,
    Route.EMPTY,
  );
  // Whatever the cache holds, the decoding is that of the bytes (property).
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 20 }), (messages) => {
      const encoded = messages.map((m) => encodeTcpMessage(m));
      for (const [i, bytes] of [...encoded, ...encoded.reverse()].entries()) {
        const decoded = decodeTcpMessage(bytes);
        assert.deepEqual(encodeTcpMessage(decoded), bytes, `message ${i}`);
      }
    }),
  );
});

Deno.test("a routing head encoded once per Route object equals one encoded afresh", () => {
  const onward = Route.from(["1#127.0.0.1:4000", "abc"]);
  const back = Route.from(["r1", "r2"]);
  const first = encodeTcpMessage(new RoutedMessage({ onwardRoute: onward, returnRoute: back }));
  const cached = encodeTcpMessage(
    new RoutedMessage({ onwardRoute: onward, returnRoute: back, payload: new Uint8Array([1]) }),
  );
  const fresh = encodeTcpMessage(
    new RoutedMessage({
      onwardRoute: Route.from(["1#127.0.0.1:4000", "abc"]),
      returnRoute: Route.from(["r1", "r2"]),
      payload: new Uint8Array([1]),
    }),
  );
  assert.deepEqual(cached, fresh);
  assert.deepEqual(decodeTcpMessage(first).onwardRoute.toString(), onward.toString());
  assert.equal(cached.length, first.length + 1);
});
