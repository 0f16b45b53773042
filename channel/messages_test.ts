import assert from "node:assert/strict";
import { encode } from "cborg";
import fc from "fast-check";
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import { RoutedMessage } from "../routing/routed_message.ts";
import { CLOSE_BYTES, decodeChannelMessage, encodeChannelMessage } from "./messages.ts";

Deno.test("Close encodes as Ockam's 8282028040", () => {
  assert.equal(toHex(encodeChannelMessage({ kind: "close" })), "8282028040");
  assert.equal(decodeChannelMessage(fromHex("8282028040")).kind, "close");
});

Deno.test("Payload encodes as 82 82 00 81 83 <onward> <return> <bstr> 40", () => {
  const bytes = encodeChannelMessage({
    kind: "payload",
    message: new RoutedMessage({
      onwardRoute: "echo",
      returnRoute: [],
      payload: new Uint8Array([9]),
    }),
  });
  // onward [[0, "echo"]] = 81 82 00 44 6563686f; return [] = 80; payload h'09' = 41 09
  assert.equal(toHex(bytes), "82820081838182004465636" + "86f80410940");
});

Deno.test("padding of any length is accepted and ignored", () => {
  const bytes = encode([
    [0, [[[[0, new TextEncoder().encode("a")]], [], new Uint8Array([1])]]],
    new Uint8Array(200),
  ]);
  const m = decodeChannelMessage(bytes);
  assert.equal(m.kind, "payload");
  if (m.kind === "payload") assert.equal(m.message.onwardRoute.toString(), "a");
});

Deno.test("RefreshCredentials round-trips its body bytes", () => {
  const body = encode([[[new Uint8Array([1, 2]), [0, [new Uint8Array(64)]]]], []]);
  const bytes = encodeChannelMessage({ kind: "refresh-credentials", body });
  assert.equal(toHex(bytes.subarray(0, 4)), "82820181");
  const m = decodeChannelMessage(bytes);
  assert.equal(m.kind, "refresh-credentials");
  if (m.kind === "refresh-credentials") assert.deepEqual(m.body, body);
});

Deno.test("payload messages round-trip with random routes and payloads", () => {
  const address = fc.tuple(
    fc.integer({ min: 0, max: 255 }),
    fc.uint8Array({ minLength: 1, maxLength: 40 }),
  );
  fc.assert(
    fc.property(
      fc.array(address, { maxLength: 5 }),
      fc.array(address, { maxLength: 5 }),
      fc.uint8Array(),
      (o, r, p) => {
        const toRoute = (a: [number, Uint8Array][]) => a.map(([t, v]) => `${t}#${toHex(v)}`);
        const message = new RoutedMessage({
          onwardRoute: toRoute(o),
          returnRoute: toRoute(r),
          payload: p,
        });
        const back = decodeChannelMessage(encodeChannelMessage({ kind: "payload", message }));
        assert.equal(back.kind, "payload");
        if (back.kind !== "payload") return;
        assert.ok(back.message.onwardRoute.equals(message.onwardRoute));
        assert.ok(back.message.returnRoute.equals(message.returnRoute));
        assert.deepEqual(back.message.payload, p);
      },
    ),
  );
});

Deno.test("random bytes decode to a message or a DecodeError, nothing else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeChannelMessage(bytes);
      } catch (error) {
        assert.ok(error instanceof DecodeError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
  assert.ok(CLOSE_BYTES.length === 5);
});

/** Runs `run` with console.log/warn/error/info/debug stubbed; returns what they were given. */
function consoleDuring(run: () => void): unknown[][] {
  const said: unknown[][] = [];
  const names = ["log", "warn", "error", "info", "debug"] as const;
  const saved = names.map((n) => console[n]);
  for (const n of names) console[n] = (...args: unknown[]) => void said.push([n, ...args]);
  try {
    run();
  } finally {
    names.forEach((n, i) => console[n] = saved[i]!);
  }
  return said;
}

Deno.test("decoding never writes to the console, whatever the plaintext holds", () => {
  // A RefreshCredentials body with maps keyed by arrays and maps: once re-encoded by cborg
  // (which printed "complex key types" warnings); now sliced out as received.
  const complex = fromHex("82" + "a1" + "8101" + "02" + "81" + "a1" + "a10102" + "03");
  const bytes = fromHex("82820181" + toHex(complex) + "40");
  const said = consoleDuring(() => {
    const m = decodeChannelMessage(bytes);
    assert.equal(m.kind, "refresh-credentials");
    if (m.kind === "refresh-credentials") assert.deepEqual(m.body, complex);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        try {
          decodeChannelMessage(fromHex("82820181" + toHex(tail)));
        } catch (error) {
          assert.ok(error instanceof DecodeError, String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });
  assert.deepEqual(said, []);
});

Deno.test("a route of 125k addresses in a channel plaintext is refused before it is built", () => {
  const address = [0, new TextEncoder().encode("a")];
  const longRoute = Array.from({ length: 125_000 }, () => address);
  for (const [onward, back] of [[longRoute, []], [[address], longRoute]]) {
    const bytes = encode([[0, [[onward, back, new Uint8Array([1])]]], new Uint8Array()]);
    assert.throws(
      () => decodeChannelMessage(bytes),
      (e) => e instanceof DecodeError && e.code === "route-too-long",
    );
  }
});

Deno.test("trailing bytes, a missing padding and non-shortest heads are bad-cbor", () => {
  for (const hex of ["828202804000", "82820280", "9802820280" + "40", "82820281014040"]) {
    assert.throws(() => decodeChannelMessage(fromHex(hex)), DecodeError, hex);
  }
});
