import assert from "node:assert/strict";
import { formatIdentifier, isIdentifier, parseIdentifier } from "./identifier.ts";

Deno.test("identifiers round-trip through their text form", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const text = formatIdentifier(bytes);
  assert.equal(text.length, 65);
  assert(isIdentifier(text));
  assert.deepEqual(parseIdentifier(text), bytes);
});

Deno.test("malformed identifier text is a DecodeError", () => {
  for (
    const bad of [
      "",
      "I",
      "I" + "0".repeat(63),
      "J" + "0".repeat(64),
      "I" + "G".repeat(64),
      "i" + "0".repeat(64),
    ]
  ) {
    assert.throws(() => parseIdentifier(bad), { name: "DecodeError", code: "bad-identifier" });
  }
  assert.throws(() => formatIdentifier(new Uint8Array(20)), TypeError);
});
