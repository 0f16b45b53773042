import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import {
  decodeChangeData,
  decodeChangeHistory,
  encodeChangeData,
  encodeChangeHistory,
} from "./change_history.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };

Deno.test("Ockam's change histories decode and re-encode byte for byte", () => {
  for (const vector of vectors.histories) {
    const bytes = fromHex(vector.changeHistory);
    const changes = decodeChangeHistory(bytes);
    assert.equal(changes.length, 1, vector.name);
    assert.equal(toHex(encodeChangeHistory(changes)), vector.changeHistory, vector.name);
    const data = decodeChangeData(changes[0]!.data);
    assert.equal(data.previousChange, null);
    assert.equal(toHex(encodeChangeData(data)), toHex(changes[0]!.data), vector.name);
  }
});

Deno.test("the P-256 history carries a 65-byte uncompressed key and a P-256 signature", () => {
  const vector = vectors.histories.find((h) => h.name === "p256_orchestrator")!;
  const [change] = decodeChangeHistory(fromHex(vector.changeHistory));
  const data = decodeChangeData(change!.data);
  assert.equal(data.primaryPublicKey.algorithm, "ECDSA-P256");
  assert.equal(data.primaryPublicKey.publicKey.length, 65);
  assert.equal(change!.signature.algorithm, "ECDSA-P256");
  assert.equal(data.attestationsValidFrom, 0x656a365d);
  assert.equal(data.attestationsValidUntil, 0x7836395d);
});

Deno.test("a first change with an explicit null previous_signature decodes", () => {
  const vector = vectors.histories[0]!;
  const bytes = fromHex(vector.changeHistory);
  // 81 82 <data> <sig>  →  81 83 <data> <sig> f6
  const withNull = new Uint8Array([0x81, 0x83, ...bytes.subarray(2), 0xf6]);
  const [change] = decodeChangeHistory(withNull);
  assert.equal(change!.previousSignature, undefined);
});

Deno.test("malformed change histories are DecodeErrors with codes", () => {
  const good = fromHex(vectors.histories[0]!.changeHistory);
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([0xa0]), "unexpected-type"],
    [new Uint8Array([0x81, 0x81, 0x40]), "bad-length"],
    [good.subarray(0, good.length - 1), "truncated"],
    [new Uint8Array([...good, 0x00]), "trailing-bytes"],
  ];
  // Signature variant 2 (unknown kind): byte before `81 5840` of the signature.
  const unknown = good.slice();
  const sigAt = toHex(unknown).lastIndexOf("8200815840") / 2;
  unknown[sigAt + 1] = 0x02;
  cases.push([unknown, "unknown-key-kind"]);
  // Signature of 63 bytes: change 5840 → 583f and drop one byte.
  const short = new Uint8Array([
    ...good.subarray(0, sigAt + 3),
    0x58,
    0x3f,
    ...good.subarray(sigAt + 5, good.length - 1),
  ]);
  cases.push([short, "bad-length"]);
  for (const [bytes, code] of cases) {
    assert.throws(() => decodeChangeHistory(bytes), { name: "DecodeError", code }, code);
  }
});

Deno.test("ChangeData with a wrong key length or unknown key kind is a DecodeError", () => {
  const [change] = decodeChangeHistory(fromHex(vectors.histories[0]!.changeHistory));
  const hex = toHex(change!.data);
  // Key variant 0 → 5.
  const unknownKind = fromHex(hex.replace("8200815820", "8205815820"));
  assert.throws(() => decodeChangeData(unknownKind), {
    name: "DecodeError",
    code: "unknown-key-kind",
  });
  // Claim a P-256 key but keep 32 bytes.
  const wrongLength = fromHex(hex.replace("8200815820", "8201815820"));
  assert.throws(() => decodeChangeData(wrongLength), { name: "DecodeError", code: "bad-length" });
  // VersionedData data_type 2 instead of 1.
  const wrongType = fromHex(hex.replace(/^830101/, "830102"));
  assert.throws(() => decodeChangeData(wrongType), { name: "TrustError", code: "wrong-data-type" });
  const wrongVersion = fromHex(hex.replace(/^830101/, "830201"));
  assert.throws(() => decodeChangeData(wrongVersion), {
    name: "TrustError",
    code: "unsupported-version",
  });
});
