import assert from "node:assert/strict";
import { encode as cborEncode } from "cborg";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { message, sameMessage } from "./_arbitraries_test.ts";
import { Route } from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";
import { decodeTcpMessage, encodeTcpMessage, ownedBytes } from "./tcp_codec.ts";

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
