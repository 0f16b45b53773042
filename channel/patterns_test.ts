import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import { handshakePattern, PATTERN_NAMES } from "./patterns.ts";

Deno.test("the table holds every pattern of §7.4, §7.5 and §7.6", () => {
  const expected = [
    "N",
    "K",
    "X",
    "NN",
    "NK",
    "NX",
    "KN",
    "KK",
    "KX",
    "XN",
    "XK",
    "XX",
    "IN",
    "IK",
    "IX",
    "NK1",
    "NX1",
    "X1N",
    "X1K",
    "XK1",
    "X1K1",
    "X1X",
    "XX1",
    "X1X1",
    "K1N",
    "K1K",
    "KK1",
    "K1K1",
    "K1X",
    "KX1",
    "K1X1",
    "I1N",
    "I1K",
    "IK1",
    "I1K1",
    "I1X",
    "IX1",
    "I1X1",
  ];
  assert.deepEqual([...PATTERN_NAMES].sort(), [...expected].sort());
});

Deno.test("patterns read as in the spec", () => {
  const ik = handshakePattern("IK");
  assert.deepEqual(ik.initiatorPreMessage, []);
  assert.deepEqual(ik.responderPreMessage, ["s"]);
  assert.deepEqual(ik.messages, [["e", "es", "s", "ss"], ["e", "ee", "se"]]);
  assert(!ik.oneWay);
  const k = handshakePattern("K");
  assert(k.oneWay);
  assert.deepEqual(k.initiatorPreMessage, ["s"]);
  assert.deepEqual(k.messages, [["e", "es", "ss"]]);
  assert.deepEqual(handshakePattern("X1X1").messages, [
    ["e"],
    ["e", "ee", "s"],
    ["es", "s"],
    ["se"],
  ]);
});

Deno.test("every static key a DH token uses is known by then (pre-message or sent earlier)", () => {
  for (const name of PATTERN_NAMES) {
    const p = handshakePattern(name);
    const known = {
      i: new Set<string>(p.initiatorPreMessage),
      r: new Set<string>(p.responderPreMessage),
    };
    p.messages.forEach((tokens, index) => {
      const sender = p.oneWay || index % 2 === 0 ? known.i : known.r;
      for (const t of tokens) {
        if (t === "e" || t === "s") sender.add(t);
        else if (t !== "psk") {
          assert(known.i.has(t[0]!), `${name}: ${t} needs the initiator's ${t[0]}`);
          assert(known.r.has(t[1]!), `${name}: ${t} needs the responder's ${t[1]}`);
        }
      }
    });
  }
});

Deno.test("psk modifiers: psk0 opens message 1, pskN closes message N (§9.1)", () => {
  assert.deepEqual(handshakePattern("XXpsk3").messages, [
    ["e"],
    ["e", "ee", "s", "es"],
    ["s", "se", "psk"],
  ]);
  const p = handshakePattern("NNpsk0+psk1+psk2");
  assert.deepEqual(p.messages, [["psk", "e", "psk"], ["e", "ee", "psk"]]);
  assert.equal(p.pskCount, 3);
  assert.equal(handshakePattern("Npsk0").messages[0]![0], "psk");
  assert.equal(handshakePattern("XX").pskCount, 0);
});

Deno.test("bad pattern names are HandshakeError 'unknown-pattern'", () => {
  for (
    const name of [
      "",
      "xx",
      "XY",
      "XXpsk4",
      "NNpsk2+psk0",
      "NNpsk0+psk0",
      "NNpsk01",
      "XXfallback",
      "XX+psk0",
    ]
  ) {
    assert.throws(() => handshakePattern(name), (e: unknown) => {
      assert(e instanceof HandshakeError && e.code === "unknown-pattern", name);
      return true;
    });
  }
});
