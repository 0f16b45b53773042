import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { attributePolicyToExpr, evaluateAttributePolicy } from "./attribute_policy.ts";
import {
  booleanExprToExpr,
  parseBooleanExpr,
  parsePolicyText,
  printBooleanExpr,
} from "./boolean_expr.ts";
import { decodeExpr, encodeExpr, type Expr, printExpr } from "./expr.ts";
import { abacEnvironment, evalExpr, evaluateAbacPolicy } from "./expr_eval.ts";
import { parseExpr } from "./expr_parse.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };

const utf8 = new TextEncoder();
const bool = (value: boolean): Expr => ({ type: "bool", value });

Deno.test("Ockam's three Expr blobs decode, print and re-encode", () => {
  const texts = [
    "true",
    '(= subject.trust_context_id "a994262c-4d59-4756-a158-19db6994feed")',
    '(and (= resource.trust_context_id subject.trust_context_id) (= subject.ockam-role "enroller"))',
  ];
  for (const [i, vector] of vectors.exprs.vectors.entries()) {
    const expr = decodeExpr(fromHex(vector.cbor));
    assert.equal(printExpr(expr), texts[i]);
    assert.equal(toHex(encodeExpr(expr)), vector.cbor.toLowerCase());
    if (i > 0) assert.deepEqual(encodeExpr(parseExpr(texts[i]!)), fromHex(vector.cbor));
  }
});

Deno.test("Expr CBOR of ints, floats, seqs", () => {
  assert.equal(toHex(encodeExpr({ type: "int", value: -2n })), "82028121");
  assert.equal(toHex(encodeExpr({ type: "float", value: 1 })), "820381fb3ff0000000000000");
  assert.equal(toHex(encodeExpr({ type: "seq", items: [] })), "82068180");
  assert.deepEqual(decodeExpr(fromHex("820381fb3ff0000000000000")), { type: "float", value: 1 });
  assert.deepEqual(decodeExpr(fromHex("820381f93c00")), { type: "float", value: 1 }); // f16 accepted
  assert.throws(() => decodeExpr(fromHex("820281f5")), { name: "DecodeError" }); // Int holding a bool
  assert.throws(() => decodeExpr(fromHex("820881f5")), { code: "unknown-variant" });
  assert.throws(() => decodeExpr(fromHex("8203810a")), { name: "DecodeError" }); // Float holding an int
  assert.throws(() => encodeExpr({ type: "int", value: 2n ** 63n }), RangeError);
});

Deno.test("parse and print: strings, numbers, sequences, comments", () => {
  const cases: [string, string][] = [
    ['(= subject.name "a \\"b\\" \\\\ \\n")', '(= subject.name "a \\"b\\" \\\\ \\n")'],
    ["(< 1 2.5 1e20 -0x10 1_000)", "(< 1 2.5 1e20 -16 1000)"],
    ["(= x inf -inf nan 0.0001 1e-5)", "(= x +inf -inf nan 0.0001 1e-5)"],
    ['(member? subject.id ["a" "b"])', '(member? subject.id ["a" "b"])'],
    [";; comment\n(not (; block (; nested ;) ;) true)", "(not true)"],
    ["= 1 1", "(= 1 1)"],
    ["and", "and"],
    ['(= "\\u{1F600}\\41" "x")', '(= "😀A" "x")'],
    ["(exists? subject.a subject.b)", "(exists? subject.a subject.b)"],
  ];
  for (const [input, printed] of cases) {
    assert.equal(printExpr(parseExpr(input)), printed, input);
    assert.equal(printExpr(parseExpr(printed)), printed, printed);
  }
});

Deno.test("malformed expressions are DecodeErrors", () => {
  for (
    const bad of [
      "",
      "  ",
      "(= a",
      "(= a))",
      "[1 2",
      "(= a]",
      '"str"',
      "(1 2)",
      '(= a "x)',
      '(= [1 "a"] x)',
      "(= 1abc 1)",
      "(= a #)",
      "(= 99999999999999999999 1)",
    ]
  ) {
    assert.throws(() => parseExpr(bad), { name: "DecodeError", code: "bad-expression" }, bad);
  }
});

Deno.test("evaluation follows Ockam's semantics", () => {
  const ev = (text: string, env: Record<string, Expr> = {}) => evalExpr(parseExpr(text), env);
  assert.deepEqual(ev("(and)"), bool(true));
  assert.deepEqual(ev("(or)"), bool(false));
  assert.deepEqual(ev("(and true false x)"), bool(false)); // short-circuit: x never looked up
  assert.deepEqual(ev("(or false true x)"), bool(true));
  assert.deepEqual(ev("(and true 5)"), { type: "int", value: 5n }); // the last value as is
  assert.deepEqual(ev("(not false)"), bool(true));
  assert.deepEqual(ev('(if (< 1 2) "yes" x)'), { type: "str", value: "yes" });
  assert.deepEqual(ev("(= 1 1 1)"), bool(true));
  assert.deepEqual(ev("(!= 1 2)"), bool(true));
  assert.deepEqual(ev("(< 1 2 2)"), bool(false));
  assert.deepEqual(ev('(> "b" "a")'), bool(true));
  assert.deepEqual(ev("(< nan 1.0)"), bool(false));
  assert.deepEqual(ev("(member? 2 [1 2 3])"), bool(true));
  assert.deepEqual(ev("(exists? a b)", { a: bool(true) }), bool(false));
  assert.deepEqual(ev('(= a "x")', { a: { type: "str", value: "x" } }), bool(true));
  for (
    const bad of [
      '(= 1 "1")',
      "(not 1)",
      "(not)",
      "(= x 1)",
      "(member? 1 2)",
      "(if 1 2 3)",
      "(< 1)",
      "(exists? 1)",
    ]
  ) {
    assert.throws(() => ev(bad), { name: "TrustError", code: "policy-evaluation-failed" }, bad);
  }
  const unknownOp: Expr = {
    type: "list",
    items: [{ type: "ident", value: "foo" }, { type: "int", value: 1n }],
  };
  assert.throws(() => evalExpr(unknownOp, {}), { code: "policy-evaluation-failed" });
});

Deno.test("very deep expressions parse, print, encode and evaluate (Ockam's EVIL test)", () => {
  const depth = 1400;
  const evil = "[".repeat(depth) + '["' + "x".repeat(70) + '"]' + "]".repeat(depth);
  const expr = parseExpr(`(= ${evil} ${evil})`);
  assert.deepEqual(evalExpr(expr, {}), bool(true));
  const printed = printExpr(expr);
  assert.equal(printExpr(parseExpr(printed)), printed);
  assert.equal(printExpr(decodeExpr(encodeExpr(expr))), printed);
  assert.throws(() => parseExpr("(= " + "[".repeat(5000) + "]".repeat(5000) + ")"), {
    code: "bad-expression",
  });
});

Deno.test("ABAC environment: subject.identifier and UTF-8 attributes", () => {
  const env = abacEnvironment({
    identifier: "Iabc",
    attributes: {
      role: utf8.encode("admin"),
      identifier: utf8.encode("spoof"),
      bin: new Uint8Array([0xff]),
    },
  });
  assert.deepEqual(env["subject.identifier"], { type: "str", value: "Iabc" });
  assert.deepEqual(env["subject.role"], { type: "str", value: "admin" });
  assert.equal(env["subject.bin"], undefined);
  const policy = '(and (= subject.role "admin") (member? subject.identifier ["Iabc" "Idef"]))';
  assert(
    evaluateAbacPolicy(policy, { identifier: "Iabc", attributes: { role: utf8.encode("admin") } }),
  );
  assert(
    !evaluateAbacPolicy(policy, { identifier: "Ixyz", attributes: { role: utf8.encode("admin") } }),
  );
  assert(!evaluateAbacPolicy('(= 1 "1")', { identifier: "I" }));
  assert(
    !evaluateAbacPolicy('"not bool"'.replace('"not bool"', "(if true 1 2)"), { identifier: "I" }),
  );
  assert.throws(() => evaluateAbacPolicy("(= a", { identifier: "I" }), { name: "DecodeError" });
  // resource.* bindings come from the environment option.
  const r = "(= resource.site subject.site)";
  const site = { type: "str" as const, value: "x" };
  assert(
    evaluateAbacPolicy(r, {
      identifier: "I",
      attributes: { site: utf8.encode("x") },
      environment: { "resource.site": site },
    }),
  );
});

Deno.test("boolean syntax: parse, print, translate", () => {
  const b = parseBooleanExpr("a and (b or not c) or d");
  assert.equal(printBooleanExpr(b), "(a and (b or (not c))) or d");
  assert.equal(printBooleanExpr(parseBooleanExpr(printBooleanExpr(b))), printBooleanExpr(b));
  assert.equal(
    printExpr(booleanExprToExpr(parseBooleanExpr("a and b"))),
    '(and (= subject.a "true") (= subject.b "true"))',
  );
  assert.equal(printBooleanExpr(parseBooleanExpr("not not x.y-z_1")), "not (not x.y-z_1)");
  for (const bad of ["", "a and", "(a", "a b", "and", "a or or b", "1a", "a)"]) {
    assert.throws(() => parseBooleanExpr(bad), { code: "bad-expression" }, bad);
  }
  const t = utf8.encode("true");
  assert(
    evaluateAbacPolicy("admin or (member and not banned)", {
      identifier: "I",
      attributes: { member: t },
    }) === false,
  );
  assert(
    evaluateAbacPolicy("admin or (member and not banned)", {
      identifier: "I",
      attributes: { admin: t },
    }),
  );
  assert(evaluateAbacPolicy("member and not banned", {
    identifier: "I",
    attributes: { member: t, banned: utf8.encode("false") },
  }));
  assert.equal(printExpr(parsePolicyText('(= subject.a "b")')), '(= subject.a "b")');
  assert.throws(() => parsePolicyText("(("), { code: "bad-expression" });
});

Deno.test("attribute policies as data", () => {
  const policy = {
    anyOf: [
      {
        allOf: [{ attribute: "role", equals: "operator" }, {
          not: { attribute: "suspended", equals: "true" },
        }],
      },
      { identifierIn: ["Iroot"] },
    ],
  };
  const attrs = (o: Record<string, string>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, utf8.encode(v)]));
  assert(
    evaluateAttributePolicy(policy, { identifier: "Ix", attributes: attrs({ role: "operator" }) }),
  );
  assert(
    !evaluateAttributePolicy(policy, {
      identifier: "Ix",
      attributes: attrs({ role: "operator", suspended: "true" }),
    }),
  );
  assert(!evaluateAttributePolicy(policy, { identifier: "Ix" }));
  assert(evaluateAttributePolicy(policy, { identifier: "Iroot" }));
  const text = printExpr(attributePolicyToExpr(policy));
  assert.equal(
    text,
    '(or (and (and (exists? subject.role) (= subject.role "operator")) (not (and (exists? subject.suspended) (= subject.suspended "true")))) (member? subject.identifier ["Iroot"]))',
  );
  // The printed form is a valid Ockam policy with the same meaning.
  assert(evaluateAbacPolicy(text, { identifier: "Iroot" }));
  assert(evaluateAttributePolicy(JSON.parse(JSON.stringify(policy)), { identifier: "Iroot" }));
});
