import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import { arrayHeader, encodeCbor, F64, parseCbor } from "./_cbor.ts";

const utf8 = new TextEncoder();

Deno.test("cbor decoding rejects what minicbor never writes", () => {
  const cases: [string, string][] = [
    ["1817", "malformed-cbor"], // 23 in two bytes: non-minimal
    ["5f4100ff", "malformed-cbor"], // indefinite bytes
    ["9f01ff", "malformed-cbor"], // indefinite array
    ["bf6161 01ff".replace(" ", ""), "malformed-cbor"], // indefinite map
    ["c001", "unsupported-cbor"], // tag
    ["f7", "malformed-cbor"], // undefined
    ["0100", "trailing-bytes"],
    ["62c328", "bad-utf8"],
    ["830102", "truncated"],
    ["", "truncated"],
  ];
  for (const [hex, code] of cases) {
    assert.throws(() => parseCbor(fromHex(hex), "x"), (e: unknown) => {
      assert(e instanceof DecodeError, hex);
      assert.equal(e.code, code, hex);
      return true;
    });
  }
});

Deno.test("cbor items keep their byte ranges", () => {
  const bytes = fromHex("8301820203f6");
  const item = parseCbor(bytes, "x");
  assert(item.kind === "array");
  assert.deepEqual([item.items[1]!.start, item.items[1]!.end], [2, 5]);
});

Deno.test("cbor nesting deeper than the limit is a DecodeError", () => {
  const deep = new Uint8Array(200).fill(0x81);
  const bytes = new Uint8Array([...deep, 0x00]);
  assert.throws(() => parseCbor(bytes, "x"), { name: "DecodeError", code: "too-deep" });
});

Deno.test("maps are written in bytewise key order, not length-first", () => {
  const keys = ["trust_context_id", "ockam-role", "ockam-relay", "a", "ab", "b", ""];
  const map = new Map(keys.map((k) => [utf8.encode(k), new Uint8Array([k.length])]));
  const bytes = encodeCbor(map);
  const item = parseCbor(bytes, "x");
  assert(item.kind === "map");
  const order = item.entries.map(([k]) =>
    new TextDecoder().decode(k.kind === "bytes" ? k.value : new Uint8Array())
  );
  assert.deepEqual(order, ["", "a", "ab", "b", "ockam-relay", "ockam-role", "trust_context_id"]);
});

Deno.test("F64 always encodes as a 64-bit float", () => {
  assert.equal(
    toHex(encodeCbor([new F64(1), new F64(0.5)])),
    "82fb3ff0000000000000fb3fe0000000000000",
  );
  assert.equal(toHex(encodeCbor(1)), "01");
});

Deno.test("array headers match definite-length encoding", () => {
  assert.equal(toHex(arrayHeader(3)), "83");
  assert.equal(toHex(arrayHeader(24)), "9818");
  assert.equal(toHex(arrayHeader(300)), "99012c");
});
