import assert from "node:assert/strict";
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import { Route } from "./route.ts";

// A route of `n` distinct local addresses.
function longRoute(n: number): Route {
  const addresses: Address[] = [];
  for (let i = 0; i < n; i++) addresses.push(Address.local(`a${i}`));
  return new Route(addresses);
}

Deno.test("routes of 200,000 addresses are built, prepended and appended without spreading", () => {
  // 125k addresses made `out.push(...addresses)` throw RangeError (too many arguments).
  const big = longRoute(200_000);
  const joined = Route.from(big, "x", big);
  assert.equal(joined.length, 400_001);
  assert.equal(joined.at(200_000)!.toString(), "x");
  assert.equal(joined.at(-1)!.toString(), "a199999");
  const prepended = big.prepend("tcp-sender");
  assert.equal(prepended.length, 200_001);
  assert.equal(prepended.next!.toString(), "tcp-sender");
  assert.equal(prepended.at(1)!.toString(), "a0");
  const appended = big.append(big, ["y"]);
  assert.equal(appended.length, 400_001);
  assert.equal(appended.last!.toString(), "y");
  assert.equal(big.popFront().popBack().length, 199_998);
  assert.ok(Route.from(big).equals(big));
});

Deno.test("prepend and append keep the order of their parts", () => {
  const r = Route.from("m");
  assert.equal(r.prepend("a", ["b", "c"], Route.from("d")).toString(), "a => b => c => d => m");
  assert.equal(r.append("a", ["b"], "c => d").toString(), "m => a => b => c => d");
  assert.equal(r.toString(), "m", "the original is unchanged");
});

Deno.test("route text errors quote a short prefix of the input, not all of it", () => {
  const text = "a => => " + "b".repeat(10_000);
  assert.throws(
    () => Route.parse(text),
    (e) => e instanceof DecodeError && e.code === "bad-route" && e.message.length < 120,
  );
  assert.throws(
    () => Address.parse("1#2#" + "c".repeat(10_000)),
    (e) => e instanceof DecodeError && e.code === "bad-address" && e.message.length < 120,
  );
  assert.throws(
    () => Address.parse("9".repeat(10_000) + "#x"),
    (e) => e instanceof DecodeError && e.code === "bad-address" && e.message.length < 120,
  );
});

// DECODING.md, route text: Ockam's `Route::parse` / `Address::from_str` accept some text
// Sealroute refuses, and the reverse never happens.
Deno.test("decoding policy: route and address text", () => {
  // Accepted, as by Ockam.
  assert.ok(Route.parse("   ").isEmpty, "blank text is the empty route");
  assert.equal(Route.parse(" a=>  1#h:1 ").toString(), "a => 1#h:1", "hops are trimmed");
  assert.equal(Address.parse("001#h:1").type, 1, "leading zeros in the type");
  assert.equal(Address.parse("1#").value.length, 0, "an empty value after the type");
  assert.equal(Address.parse("0#x").toString(), "x", "type 0 prints bare");
  assert.equal(Address.parse("x y").toString(), "x y", "spaces inside a local name");
  // Refused, though Ockam accepts: an empty hop or an empty local name (Ockam makes an
  // empty local address, whose text is the empty route) and a '+' sign or four digits in
  // the type (Rust's u8 parser takes both).
  for (const text of ["a => => b", "a =>", "=> a"]) {
    assert.throws(() => Route.parse(text), { code: "bad-route" }, text);
  }
  assert.throws(() => Route.parse("a => 0#"), { code: "bad-address" });
  for (const text of ["+1#h:1", "0001#h:1", "0#", "000#", ""]) {
    assert.throws(() => Address.parse(text), { code: "bad-address" }, text);
  }
  // Refused by both: more than one '#', a type above 255 or not a number.
  for (const text of ["1#a#b", "256#x", "x#y", "#y", " 1#y"]) {
    assert.throws(() => Address.parse(text), { code: "bad-address" }, text);
  }
});
