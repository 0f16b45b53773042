// Property tests (fast-check) for every identity codec.
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromHex, toHex } from "../_bytes.ts";
import { parseCbor } from "./_cbor.ts";
import { DecodeError, TrustError } from "../errors.ts";
import { decodeChangeData, decodeChangeHistory } from "./change_history.ts";
import { decodeCredential, decodeCredentialData, encodeCredentialData } from "./credential.ts";
import { decodeExpr, encodeExpr, type Expr, printExpr } from "./expr.ts";
import { parseBooleanExpr } from "./boolean_expr.ts";
import { parseExpr } from "./expr_parse.ts";
import { decodeIdentityAndCredentials, decodeRefreshCredentials } from "./handshake_payload.ts";
import { importIdentity } from "./identity.ts";
import { parseIdentifier } from "./identifier.ts";
import { decodePurposeKeyAttestation, decodePurposeKeyAttestationData } from "./purpose_key.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };
import { decodeVersionedData } from "./versioned_data.ts";

function typed(error: unknown): boolean {
  return error instanceof DecodeError || error instanceof TrustError;
}

const decoders: [string, (bytes: Uint8Array) => unknown][] = [
  ["decodeChangeHistory", decodeChangeHistory],
  ["decodeChangeData", decodeChangeData],
  ["decodeVersionedData", decodeVersionedData],
  ["decodePurposeKeyAttestation", decodePurposeKeyAttestation],
  ["decodePurposeKeyAttestationData", decodePurposeKeyAttestationData],
  ["decodeCredential", decodeCredential],
  ["decodeCredentialData", decodeCredentialData],
  ["decodeIdentityAndCredentials", decodeIdentityAndCredentials],
  ["decodeRefreshCredentials", decodeRefreshCredentials],
  ["decodeExpr", decodeExpr],
];

// Inputs near valid ones find more paths than uniformly random bytes.
const seeds = [
  ...vectors.histories.map((h) => fromHex(h.changeHistory)),
  fromHex(vectors.refreshCredentials.message).subarray(4, -1),
  ...vectors.exprs.vectors.map((v) => fromHex(v.cbor)),
];
const mutated = fc.tuple(
  fc.constantFrom(...seeds),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
    maxLength: 4,
  }),
  fc.nat(),
).map(([seed, edits, cut]) => {
  const bytes = seed.slice(0, seed.length - (cut % 3 === 0 ? cut % 7 : 0));
  for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
  return bytes;
});
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated);

Deno.test("random bytes into every decoder give a value or a DecodeError/TrustError", () => {
  for (const [name, decode] of decoders) {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        try {
          decode(bytes);
        } catch (error) {
          assert(typed(error), `${name}: ${error}`);
        }
      }),
      { numRuns: 400 },
    );
  }
});

Deno.test("random bytes into importIdentity give an identity or a typed error", async () => {
  await fc.assert(
    fc.asyncProperty(anyBytes, async (bytes) => {
      try {
        await importIdentity(bytes);
      } catch (error) {
        assert(typed(error), String(error));
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("random text into the parsers gives a value or a DecodeError", () => {
  const text = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.array(
      fc.constantFrom(
        "(",
        ")",
        "[",
        "]",
        '"',
        " ",
        "a",
        "1",
        ".",
        "=",
        "and",
        "not",
        "\\",
        ";",
        "e",
        "-",
      ),
      {
        maxLength: 30,
      },
    ).map((a) => a.join("")),
  );
  fc.assert(
    fc.property(text, (s) => {
      for (const parse of [parseExpr, parseBooleanExpr, parseIdentifier]) {
        try {
          parse(s);
        } catch (error) {
          assert(error instanceof DecodeError, `${s}: ${error}`);
        }
      }
    }),
    { numRuns: 1000 },
  );
});

const attributeMap = fc.dictionary(
  fc.string({ maxLength: 20 }),
  fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 })),
  { maxKeys: 12 },
);

Deno.test("credential data round-trips random attribute maps, keys in bytewise order", () => {
  const utf8 = new TextEncoder();
  fc.assert(
    fc.property(attributeMap, fc.nat(), fc.nat(), (attributes, created, ttl) => {
      const encoded = encodeCredentialData({
        subject: "I" + "ab".repeat(32),
        subjectLatestChangeHash: new Uint8Array(32),
        schema: 1,
        attributes,
        createdAt: created,
        expiresAt: created + ttl,
      });
      const decoded = decodeCredentialData(encoded);
      const expected = Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [k, typeof v === "string" ? utf8.encode(v) : v]),
      );
      assert.deepEqual(decoded.attributes, expected);
      // The map on the wire is in bytewise key order (JS objects reorder integer-like keys).
      const inner = parseCbor(decodeVersionedData(encoded).data, "x");
      assert(inner.kind === "array" && inner.items[2]!.kind === "array");
      const map = inner.items[2]!.items[1]!;
      assert(map.kind === "map");
      const keys = map.entries.map(([k]) => (k.kind === "bytes" ? toHex(k.value) : ""));
      for (let i = 1; i < keys.length; i++) assert(keys[i - 1]! < keys[i]!, keys.join(","));
      assert.deepEqual(encodeCredentialData(decoded), encoded);
    }),
    { numRuns: 300 },
  );
});

const leafExpr: fc.Arbitrary<Expr> = fc.oneof(
  fc.string({ maxLength: 10 }).map((value): Expr => ({ type: "str", value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value): Expr => ({
    type: "int",
    value,
  })),
  fc.double().map((value): Expr => ({ type: "float", value })),
  fc.boolean().map((value): Expr => ({ type: "bool", value })),
  fc.constantFrom("subject.role", "a", "x.y-z", "member?", "=").map((value): Expr => ({
    type: "ident",
    value,
  })),
);
const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafExpr,
    fc.array(tie("expr"), { maxLength: 4 }).map((items): Expr => ({ type: "list", items })),
    // Sequences hold one type of value, as Ockam's parser requires.
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }).map((xs): Expr => ({
      type: "seq",
      items: xs.map((value) => ({ type: "str", value })),
    })),
  ),
})).expr;

Deno.test("expressions round-trip through CBOR and (operator-first) through text", () => {
  fc.assert(
    fc.property(exprArb, (expr) => {
      const again = decodeExpr(encodeExpr(expr));
      assert.equal(printExpr(again), printExpr(expr));
      const wrapped: Expr = { type: "list", items: [{ type: "ident", value: "and" }, expr] };
      const text = printExpr(wrapped);
      assert.equal(printExpr(parseExpr(text)), text);
    }),
    { numRuns: 500 },
  );
});
