import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import {
  type AttributePolicy,
  attributePolicyToExpr,
  evaluateAttributePolicy,
} from "./attribute_policy.ts";
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
  // Ockam parses, prints and evaluates this; here it takes a raised bound (default 64).
  const depth = 1400;
  const evil = "[".repeat(depth) + '["' + "x".repeat(70) + '"]' + "]".repeat(depth);
  const text = `(= ${evil} ${evil})`;
  const deep = { maxDepth: 2048 };
  const expr = parseExpr(text, deep);
  assert.deepEqual(evalExpr(expr, {}, deep), bool(true));
  const printed = printExpr(expr);
  assert.equal(printExpr(parseExpr(printed, deep)), printed);
  assert.equal(printExpr(decodeExpr(encodeExpr(expr), deep)), printed);
  assert.throws(() => parseExpr(text), { name: "DecodeError", code: "expression-too-deep" });
  assert.throws(() => decodeExpr(encodeExpr(expr)), { code: "expression-too-deep" });
  assert.throws(() => evalExpr(expr, {}), { name: "TrustError", code: "expression-too-deep" });
  assert.throws(() => parseExpr("(= " + "[".repeat(5000) + "]".repeat(5000) + ")", deep), {
    code: "expression-too-deep",
  });
});

// `d` nested lists `(not (not ... true))`, as text and as CBOR, without recursion.
function nestedNot(d: number): { text: string; cbor: Uint8Array } {
  const text = "(not ".repeat(d) + "true" + ")".repeat(d);
  // [7, [[ [5, ["not"]], <inner> ]]] per level; the innermost value is [4, [true]].
  const level = [0x82, 0x07, 0x81, 0x82, 0x82, 0x05, 0x81, 0x63, 0x6e, 0x6f, 0x74];
  const cbor = new Uint8Array(level.length * d + 4);
  for (let i = 0; i < d; i++) cbor.set(level, i * level.length);
  cbor.set([0x82, 0x04, 0x81, 0xf5], level.length * d);
  return { text, cbor };
}

function nestedNotExpr(d: number): Expr {
  let e: Expr = bool(true);
  for (let i = 0; i < d; i++) e = { type: "list", items: [{ type: "ident", value: "not" }, e] };
  return e;
}

Deno.test("expression depth: exactly maxDepth is accepted, one more refused with a typed error", () => {
  for (const maxDepth of [1, 5, 64]) {
    const options = { maxDepth };
    const ok = nestedNot(maxDepth);
    const over = nestedNot(maxDepth + 1);
    const expected = bool(maxDepth % 2 === 0);
    assert.deepEqual(evalExpr(parseExpr(ok.text, options), {}, options), expected);
    assert.deepEqual(evalExpr(decodeExpr(ok.cbor, options), {}, options), expected);
    assert.deepEqual(decodeExpr(ok.cbor, options), parseExpr(ok.text, options));
    assert.throws(() => parseExpr(over.text, options), { code: "expression-too-deep" });
    assert.throws(() => decodeExpr(over.cbor, options), { code: "expression-too-deep" });
    assert.throws(() => evalExpr(nestedNotExpr(maxDepth + 1), {}, options), {
      name: "TrustError",
      code: "expression-too-deep",
    });
  }
  // The default is 64.
  assert.ok(parseExpr(nestedNot(64).text));
  assert.throws(() => parseExpr(nestedNot(65).text), { code: "expression-too-deep" });
  // Several top-level values are a list around them: one level more.
  assert.ok(parseExpr("not (not true)", { maxDepth: 2 }));
  assert.throws(() => parseExpr("not (not (not true))", { maxDepth: 2 }), {
    code: "expression-too-deep",
  });
  assert.throws(() => parseExpr("(= 1 1)", { maxDepth: -1 }), RangeError);
});

Deno.test("100,000-deep input gives typed errors, never a stack overflow", () => {
  const { text, cbor } = nestedNot(100_000);
  assert.throws(() => parseExpr(text), { name: "DecodeError", code: "expression-too-deep" });
  assert.throws(() => decodeExpr(cbor), { name: "DecodeError", code: "expression-too-deep" });
  assert.throws(() => parsePolicyText(text), { code: "expression-too-deep" });
  const expr = nestedNotExpr(100_000);
  assert.throws(() => evalExpr(expr, {}), { name: "TrustError", code: "expression-too-deep" });
  assert.equal(evaluateAbacPolicy(expr, { identifier: "I" }), false, "too deep denies");
  assert.throws(() => evaluateAbacPolicy(text, { identifier: "I" }), {
    code: "expression-too-deep",
  });
  const seqs = "(= " + "[".repeat(100_000) + "]".repeat(100_000) + " 1)";
  assert.throws(() => parseExpr(seqs), { code: "expression-too-deep" });
  const chain = Array.from({ length: 100_000 }, (_, i) => `a${i}`).join(" and ");
  assert.throws(() => parseBooleanExpr(chain), { code: "expression-too-deep" });
  assert.throws(() => parsePolicyText(chain), { code: "expression-too-deep" });
  assert.throws(() => parseBooleanExpr("not ".repeat(100_000) + "a"), {
    code: "expression-too-deep",
  });
  // Redundant parentheses nest nothing: 100,000 of them are still a plain name.
  const parens = "(".repeat(100_000) + "a" + ")".repeat(100_000);
  assert.deepEqual(parseBooleanExpr(parens), { type: "name", name: "a" });
});

Deno.test("with a raised bound, 100,000-deep expressions parse, decode, evaluate and print", () => {
  const options = { maxDepth: 100_000 };
  const { text, cbor } = nestedNot(100_000);
  const parsed = parseExpr(text, options);
  assert.deepEqual(evalExpr(parsed, {}, options), bool(true));
  assert.equal(printExpr(parsed), text);
  assert.deepEqual(encodeExpr(parsed), cbor);
  assert.deepEqual(evalExpr(decodeExpr(cbor, options), {}, options), bool(true));
  // Deep values compare without recursion too.
  const seq = "[".repeat(50_000) + "1" + "]".repeat(50_000);
  assert.deepEqual(evalExpr(parseExpr(`(= ${seq} ${seq})`, options), {}, options), bool(true));
  assert.deepEqual(evalExpr(parseExpr(`(< ${seq} ${seq})`, options), {}, options), bool(false));
  // A boolean chain of 50,000 names is 50,000 deep once translated.
  const names = Array.from({ length: 50_000 }, (_, i) => `a${i}`);
  const b = parseBooleanExpr(names.join(" or "), options);
  const translated = booleanExprToExpr(b);
  const attributes: Record<string, Uint8Array> = {};
  for (const name of names) attributes[name] = utf8.encode("false");
  attributes.a49999 = utf8.encode("true");
  assert.deepEqual(
    evalExpr(translated, abacEnvironment({ identifier: "I", attributes }), options),
    bool(true),
  );
  const printed = printBooleanExpr(b);
  assert.ok(printed.startsWith("(".repeat(49_998) + "a0 or a1) or a2) or a3)"));
  assert.ok(printed.endsWith(") or a49998) or a49999"));
  assert.equal(printBooleanExpr(parseBooleanExpr(printed, options)), printed);
});

Deno.test("wide expressions: 200,000 items encode and strings of 200,000 characters parse", () => {
  const items: Expr[] = Array.from(
    { length: 200_000 },
    (_, i) => ({ type: "int", value: BigInt(i) }),
  );
  const wide: Expr = { type: "seq", items };
  assert.deepEqual(decodeExpr(encodeExpr(wide)), wide);
  const long = "é".repeat(200_000);
  const parsed = parseExpr(`(= subject.a "${long}")`);
  assert.equal((parsed as { items: Expr[] }).items[2]!.type, "str");
  assert.deepEqual(evalExpr(parsed, { "subject.a": { type: "str", value: long } }), bool(true));
});

Deno.test("identifiers bound to identifiers: chains end at maxDepth, cycles are refused", () => {
  const x: Expr = { type: "ident", value: "x" };
  assert.throws(() => evalExpr(x, { x }), { name: "TrustError", code: "expression-too-deep" });
  const env = { a: { type: "ident" as const, value: "b" }, b: bool(true) };
  assert.deepEqual(evalExpr(parseExpr("(and a)"), env), bool(true));
});

Deno.test("attribute policies nested deeper than maxDepth are refused when translated", () => {
  let policy: AttributePolicy = { attribute: "role", equals: "x" }; // two levels
  for (let i = 0; i < 62; i++) policy = { not: policy };
  assert.ok(attributePolicyToExpr(policy)); // 64 levels
  assert.throws(() => attributePolicyToExpr({ allOf: [policy] }), TypeError);
  assert.ok(attributePolicyToExpr({ allOf: [policy] }, { maxDepth: 65 }));
  let deep: AttributePolicy = { identifierIn: [] };
  for (let i = 0; i < 100_000; i++) deep = { anyOf: [deep] };
  assert.throws(() => evaluateAttributePolicy(deep, { identifier: "I" }), TypeError);
});

// DECODING.md, Expr CBOR: what Ockam (minicbor's derive) accepts beyond what it writes,
// and what Sealroute does with each.
Deno.test("decoding policy: Expr CBOR", () => {
  const accepted: [string, string, Expr][] = [
    ["a 16-bit float (minicbor's f64 reads f16)", "820381f93c00", { type: "float", value: 1 }],
    ["a 32-bit float (minicbor's f64 reads f32)", "820381fa3f800000", { type: "float", value: 1 }],
    ["an i64 at the bottom of the range", "8202813b7fffffffffffffff", {
      type: "int",
      value: -(2n ** 63n),
    }],
  ];
  for (const [name, hex, expr] of accepted) assert.deepEqual(decodeExpr(fromHex(hex)), expr, name);
  const refused: [string, string, string][] = [
    ["non-minimal integer (minicbor accepts)", "8202811801", "malformed-cbor"],
    ["non-minimal array length (minicbor accepts)", "980204811801", "malformed-cbor"],
    ["indefinite array (minicbor's derive accepts)", "9f0481f5ff", "malformed-cbor"],
    ["trailing bytes (minicbor::decode ignores them)", "820481f500", "trailing-bytes"],
    ["a second field (minicbor's derive skips it)", "820482f5f5", "bad-length"],
    ["an unknown variant (minicbor refuses too)", "820881f5", "unknown-variant"],
    ["an Int beyond i64 (minicbor refuses too)", "8202811bffffffffffffffff", "unexpected-type"],
    ["a tag (minicbor refuses too)", "c1820481f5", "unsupported-cbor"],
    ["invalid UTF-8 in a Str (minicbor refuses too)", "82018161ff", "bad-utf8"],
  ];
  for (const [name, hex, code] of refused) {
    assert.throws(() => decodeExpr(fromHex(hex)), { name: "DecodeError", code }, name);
  }
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
