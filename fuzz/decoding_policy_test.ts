// DECODING.md, pinned: for the structures decoded outside routing/ and the ABAC modules
// (identity CBOR, secure-channel plaintext, handshake messages), what Ockam's decoders
// accept beyond what its encoders write, and what Sealroute does with each. (Routing's
// decisions are pinned in routing/*_test.ts, Expr CBOR's in identity/expr_test.ts.)
import assert from "node:assert/strict";
import { encode as cborEncode } from "cborg";
import { fromHex } from "../_bytes.ts";
import { decodeChannelMessage } from "../channel/messages.ts";
import { HandshakeState } from "../channel/handshake_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "../channel/suite.ts";
import {
  decodeChangeData,
  decodeChangeHistory,
  decodeCredential,
  decodeCredentialData,
  decodeIdentityAndCredentials,
  decodePurposeKeyAttestation,
  decodeRefreshCredentials,
  decodeVersionedData,
} from "../identity/mod.ts";
import fixtures from "./testdata/fixtures.json" with { type: "json" };
import handshake from "../channel/testdata/ockam_handshake.json" with { type: "json" };

const hex = (s: string) => fromHex(s);
const cat = (...parts: (Uint8Array | number[])[]) => {
  const out: number[] = [];
  for (const p of parts) out.push(...p);
  return Uint8Array.from(out);
};
// The array head of `bytes` (one byte for fewer than 24 items) with `n` items instead.
const withCount = (bytes: Uint8Array, n: number) =>
  cat([(bytes[0]! & 0xe0) | n], bytes.subarray(1));

const history = hex(fixtures.deviceChangeHistory);
const change = decodeChangeHistory(history)[0]!;
const credential = hex(fixtures.credential);
const attestation = hex(fixtures.purposeKeyAttestation);
const refresh = hex(fixtures.refreshCredentials);
const payload = hex(fixtures.identityAndCredentials);

Deno.test("decoding policy: identity CBOR refuses every form minicbor would not write", () => {
  // VersionedData [1, 1, data] with the data's head made longer than needed.
  const versioned = change.data; // 83 01 01 58 xx ...
  assert.equal(decodeVersionedData(versioned).version, 1);
  const refused: [string, Uint8Array, string][] = [
    [
      "non-minimal integer: version 1 as 18 01 (minicbor accepts)",
      cat([0x83, 0x18, 0x01], versioned.subarray(2)),
      "malformed-cbor",
    ],
    [
      "non-minimal length: array 98 03 (minicbor accepts)",
      cat([0x98, 0x03], versioned.subarray(1)),
      "malformed-cbor",
    ],
    [
      "indefinite array (minicbor's derive accepts)",
      cat([0x9f], versioned.subarray(1), [0xff]),
      "malformed-cbor",
    ],
    ["trailing bytes (minicbor::decode ignores them)", cat(versioned, [0x00]), "trailing-bytes"],
    [
      "an unknown 4th field (minicbor's derive skips it)",
      cat(withCount(versioned, 4), [0xf6]),
      "bad-length",
    ],
    [
      "a tag around the data (minicbor refuses too)",
      cat(versioned.subarray(0, 3), [0xd8, 0x18], versioned.subarray(3)),
      "unsupported-cbor",
    ],
  ];
  for (const [name, bytes, code] of refused) {
    assert.throws(() => decodeVersionedData(bytes), { name: "DecodeError", code }, name);
  }
  // The same holds one level down, in every structure: an unknown trailing field is refused.
  const extra: [string, () => unknown][] = [
    [
      "ChangeHistory: a Change with a 4th field",
      () => decodeChangeHistory(cat([0x81], cat(withCount(history.subarray(1), 4), [0xf6, 0xf6]))),
    ],
    [
      "PurposeKeyAttestation with a 3rd field",
      () => decodePurposeKeyAttestation(cat(withCount(attestation, 3), [0xf6])),
    ],
    [
      "CredentialAndPurposeKey with a 3rd field",
      () => decodeCredential(cat(withCount(credential, 3), [0xf6])),
    ],
    [
      "RefreshCredentials with a 3rd field",
      () => decodeRefreshCredentials(cat(withCount(refresh, 3), [0x80])),
    ],
    [
      "IdentityAndCredentials with a 4th field",
      () => decodeIdentityAndCredentials(cat(withCount(payload, 4), [0x80])),
    ],
  ];
  for (const [name, decode] of extra) {
    assert.throws(decode, { name: "DecodeError", code: "bad-length" }, name);
  }
  // A missing trailing optional and an explicit null both mean None, as in minicbor.
  const withNull = cat([0x81], cat(withCount(history.subarray(1), 3), [0xf6]));
  assert.equal(decodeChangeHistory(withNull)[0]!.previousSignature, undefined);
});

Deno.test("decoding policy: signed identity data refuses unknown fields and other versions", () => {
  const data = decodeVersionedData(change.data);
  const inner = data.data; // ChangeData: an array of 5
  assert.equal(inner[0], 0x85);
  const sixFields = cborEncode([1, 1, cat([0x86], inner.subarray(1), [0xf6])]);
  assert.throws(() => decodeChangeData(sixFields), { name: "DecodeError", code: "bad-length" });
  const version2 = cborEncode([2, 1, inner]);
  assert.throws(() => decodeChangeData(version2), {
    name: "TrustError",
    code: "unsupported-version",
  });
  const wrongType = cborEncode([1, 3, inner]);
  assert.throws(() => decodeChangeData(wrongType), { name: "TrustError", code: "wrong-data-type" });
});

Deno.test("decoding policy: credential attributes in any key order, never twice", () => {
  const data = decodeCredential(credential).credential.data;
  const decoded = decodeCredentialData(data);
  const names = Object.keys(decoded.attributes);
  assert.ok(names.length >= 2);
  // Re-encode the attribute map by hand: keys reversed (Ockam writes bytewise order, and
  // its BTreeMap reads any order), then with a key twice (Ockam keeps the last; refused).
  const map = (keys: string[]) =>
    new Map(keys.map((k) => [new TextEncoder().encode(k), decoded.attributes[k]!] as const));
  const encodeAttributes = (entries: [Uint8Array, Uint8Array][]) => {
    // A CBOR map written entry by entry, so order and duplicates are ours to choose.
    const parts: Uint8Array[] = [Uint8Array.of(0xa0 | entries.length)];
    for (const [k, v] of entries) parts.push(cborEncode(k), cborEncode(v));
    return cat(...parts);
  };
  const credentialData = (attributes: Uint8Array) =>
    cborEncode([
      1,
      3,
      cat(
        [0x85],
        cborEncode(fromHex(decoded.subject!.slice(1))),
        cborEncode(decoded.subjectLatestChangeHash!),
        [0x82],
        cborEncode(decoded.schema),
        attributes,
        cborEncode(decoded.createdAt),
        cborEncode(decoded.expiresAt),
      ),
    ]);
  const entries = [...map(names).entries()] as [Uint8Array, Uint8Array][];
  const reversed = decodeCredentialData(credentialData(encodeAttributes(entries.toReversed())));
  assert.deepEqual(reversed.attributes, decoded.attributes);
  assert.throws(
    () => decodeCredentialData(credentialData(encodeAttributes([...entries, entries[0]!]))),
    { name: "DecodeError", code: "duplicate-attribute" },
  );
});

Deno.test("decoding policy: secure-channel plaintext", () => {
  const route = [[0, new TextEncoder().encode("echo")]];
  const payloadMessage = (body: unknown[], padding: Uint8Array = new Uint8Array()) =>
    cborEncode([[0, [body]], padding]);
  // Accepted: any padding (Ockam pads for length hiding; it sends none today).
  const padded = decodeChannelMessage(
    payloadMessage([route, [], Uint8Array.of(1)], new Uint8Array(100)),
  );
  assert.equal(padded.kind, "payload");
  assert.equal(decodeChannelMessage(hex("82820280" + "43000000")).kind, "close");
  const refused: [string, Uint8Array, string][] = [
    ["trailing bytes (minicbor ignores them)", cat(hex("8282028040"), [0]), "bad-cbor"],
    ["non-minimal integer: variant 2 as 18 02", hex("828218028040"), "bad-cbor"],
    ["indefinite array", hex("9f82028040ff"), "bad-cbor"],
    ["an unknown 3rd field of the padded message", hex("83820280" + "40" + "f6"), "bad-shape"],
    ["Close with a field", hex("828202" + "81f6" + "40"), "bad-shape"],
    ["an unknown variant 3", hex("82820380" + "40"), "bad-shape"],
    [
      "a Payload with a 4th (tracing) element",
      payloadMessage([route, [], Uint8Array.of(1), null]),
      "bad-shape",
    ],
    [
      "a route over the bound",
      payloadMessage([new Array(65).fill(route[0]), [], new Uint8Array()]),
      "route-too-long",
    ],
    [
      "an address over the bound",
      payloadMessage([[[0, new Uint8Array(1025)]], [], new Uint8Array()]),
      "address-too-long",
    ],
  ];
  for (const [name, bytes, code] of refused) {
    assert.throws(() => decodeChannelMessage(bytes), { name: "DecodeError", code }, name);
  }
});

Deno.test("decoding policy: handshake messages take exactly their pattern's bytes", async () => {
  const keys = handshake.cases[0]!;
  const responder = () =>
    HandshakeState.create({
      protocolName: OCKAM_XX_PROTOCOL_NAME,
      initiator: false,
      staticKey: fromHex(keys.responder_static),
    });
  const initiator = await HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: true,
    staticKey: fromHex(keys.initiator_static),
  });
  const m1 = await initiator.writeMessage();
  // Message 1 is `e` and a payload in clear; bytes after `e` are that payload (Ockam sends
  // none and ignores any), so they are accepted and handed to the caller.
  assert.deepEqual(await (await responder()).readMessage(cat(m1, [1, 2])), Uint8Array.of(1, 2));
  await assert.rejects(async () => await (await responder()).readMessage(m1.subarray(0, 31)), {
    name: "HandshakeError",
    code: "truncated",
  });
  await assert.rejects(
    async () => await (await responder()).readMessage(new Uint8Array(65_536)),
    { name: "HandshakeError" },
  );
});
