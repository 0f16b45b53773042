import assert from "node:assert/strict";
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import { Route } from "./route.ts";

Deno.test("address text form: local bare, others tt#value", () => {
  assert.equal(Address.parse("api").toString(), "api");
  assert.equal(Address.parse("0#api").toString(), "api");
  assert.equal(Address.parse("1#127.0.0.1:4000").toString(), "1#127.0.0.1:4000");
  assert.equal(Address.parse("1#127.0.0.1:4000").type, 1);
  assert.deepEqual([...Address.parse("3#h:1").value], [...new TextEncoder().encode("h:1")]);
});

Deno.test("address parse rejects more than one '#' and bad types", () => {
  for (const bad of ["1#a#b", "256#x", "x#y", "#y", "-1#y", "1000#y"]) {
    assert.throws(
      () => Address.parse(bad),
      (e) => e instanceof DecodeError && e.code === "bad-address",
      bad,
    );
  }
});

Deno.test("random address is 32 hex characters", () => {
  const a = Address.random();
  assert.match(a.toString(), /^[0-9a-f]{32}$/);
  assert.ok(a.isLocal);
  assert.ok(!a.equals(Address.random()));
});

Deno.test("non-UTF-8 values print as hex", () => {
  assert.equal(new Address(0, new Uint8Array([0xff, 0x00])).toString(), "0xff00");
});

Deno.test("route parse, print and immutable helpers", () => {
  const r = Route.parse("1#127.0.0.1:4000 =>  echo");
  assert.equal(r.toString(), "1#127.0.0.1:4000 => echo");
  assert.equal(r.length, 2);
  const popped = r.popFront();
  assert.equal(r.length, 2);
  assert.equal(popped.toString(), "echo");
  assert.equal(r.prepend("x").toString(), "x => 1#127.0.0.1:4000 => echo");
  assert.equal(r.append(Route.from("y", "z")).length, 4);
  assert.ok(Route.from("a => b").equals(Route.from(["a", "b"])));
  assert.ok(Route.parse("").isEmpty);
  assert.ok(Route.EMPTY.popFront().isEmpty);
  assert.throws(
    () => Route.parse("a => => b"),
    (e) => e instanceof DecodeError && e.code === "bad-route",
  );
});
