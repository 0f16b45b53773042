import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { decodeBareString, decodeVarint, encodeBareString, encodeVarint } from "./bare.ts";

Deno.test("varint 10-byte rule (Ockam bare.rs vectors)", () => {
  const ff = (last: number) => new Uint8Array([...new Array(9).fill(0xff), last]);
  assert.equal(decodeVarint(ff(0x01)).value, 0xffff_ffff_ffff_ffffn);
  for (const last of [0x02, 0x03, 0xff]) {
    assert.throws(
      () => decodeVarint(ff(last)),
      (e) => e instanceof DecodeError && e.code === "varint-overflow",
    );
  }
  assert.throws(
    () => decodeVarint(new Uint8Array([0x80])),
    (e) => e instanceof DecodeError && e.code === "truncated",
  );
});

Deno.test("varint round-trips u64 values", () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }), (v) => {
    const bytes = encodeVarint(v);
    const { value, offset } = decodeVarint(bytes);
    return value === v && offset === bytes.length && bytes.length <= 10;
  }));
  assert.throws(() => encodeVarint(-1), RangeError);
});

Deno.test("BARE String 'register' matches OCKAM_WIRE §0.2", () => {
  assert.deepEqual([...encodeBareString("register")], [
    0x08,
    0x72,
    0x65,
    0x67,
    0x69,
    0x73,
    0x74,
    0x65,
    0x72,
  ]);
  assert.equal(decodeBareString(encodeBareString("forward_to_x")), "forward_to_x");
});

Deno.test("random bytes into decodeBareString give a string or a DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        return typeof decodeBareString(bytes) === "string";
      } catch (e) {
        return e instanceof DecodeError;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("varints must be in their shortest form (DECODING.md: Ockam accepts longer ones)", () => {
  for (const bytes of [[0x80, 0x00], [0xff, 0x80, 0x00], [0x81, 0x80, 0x80, 0x00]]) {
    assert.throws(
      () => decodeVarint(new Uint8Array(bytes)),
      (e) => e instanceof DecodeError && e.code === "non-minimal-varint",
      bytes.join(),
    );
  }
  assert.equal(decodeVarint(new Uint8Array([0x00])).value, 0n);
  assert.equal(decodeVarint(new Uint8Array([0x80, 0x01])).value, 128n);
  assert.throws(() => decodeBareString(new Uint8Array([0x81, 0x00, 0x61])), {
    code: "non-minimal-varint",
  });
});
