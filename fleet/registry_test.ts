import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { ensureNatsServer, startNatsServer } from "../tests/nats/cluster.ts";
import { FleetRegistry, parseNameRecord } from "./registry.ts";

const available = await ensureNatsServer();
const encoder = new TextEncoder();

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert(check(), `timed out waiting for ${what}`);
}

Deno.test("name records: only well-formed ones parse", () => {
  const ok = { identity: "Iab", node: "relay-a", epoch: 2, at: 5 };
  assert.deepEqual(parseNameRecord(encoder.encode(JSON.stringify(ok))), ok);
  for (
    const bad of [
      "not json",
      JSON.stringify({ ...ok, node: "has.dot" }),
      JSON.stringify({ ...ok, identity: "" }),
      JSON.stringify({ ...ok, epoch: 1.5 }),
      JSON.stringify({ ...ok, at: "now" }),
      JSON.stringify([ok]),
      "x".repeat(5000),
    ]
  ) {
    assert.equal(parseNameRecord(encoder.encode(bad)), undefined, bad.slice(0, 40));
  }
});

Deno.test({
  name: "registry: one identity per name across relays; the holder moves it; others are refused",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await startNatsServer();
    const js = s.js;
    const a = await FleetRegistry.open(js, { node: "a", nodeTtl: 3000 });
    const b = await FleetRegistry.open(js, { node: "b", nodeTtl: 3000 });
    try {
      const moves: string[] = [];
      b.onChange((name, record) => moves.push(`${name}@${record?.node ?? "-"}`));
      assert.equal(await a.claim("forward_to_d", "Idev"), undefined);
      await until(() => b.lookup("forward_to_d")?.node === "a", "b seeing a's claim");
      assert.match((await b.claim("forward_to_d", "Iother"))!, /held by another identity/);
      assert.match((await a.claim("forward_to_x", undefined))!, /secure channel/);
      // The holder moves the name to b: epoch + 1, and a learns of it.
      assert.equal(await b.claim("forward_to_d", "Idev"), undefined);
      assert.equal(b.lookup("forward_to_d")?.epoch, 2);
      await until(() => a.lookup("forward_to_d")?.node === "b", "a seeing the move");
      // a may not write over b's record (its touch compares revisions), nor remove it.
      await a.touch("forward_to_d");
      await a.remove("forward_to_d");
      await until(() => b.lookup("forward_to_d")?.node === "b", "b's record kept");
      assert.equal(a.lookup("forward_to_d")?.node, "b");
      // Concurrent claims by two identities for a free name: exactly one wins.
      const results = await Promise.all([
        a.claim("forward_to_race", "I1"),
        b.claim("forward_to_race", "I2"),
      ]);
      assert.equal(results.filter((r) => r === undefined).length, 1, String(results));
      // A hostile record in the bucket is ignored, not trusted.
      const kv = await new Kvm(js).open("sealroute_names");
      await kv.put("Zm9yd2FyZF90b19ldmls", encoder.encode('{"identity":1}'));
      assert.equal(await a.claim("forward_to_evil", "Idev"), undefined);
      // Live nodes, with their boot ids; a closed registry leaves the list.
      assert.deepEqual([...(await a.nodes()).keys()].sort(), ["a", "b"]);
      await b.close();
      assert.deepEqual([...(await a.nodes()).keys()], ["a"]);
      assert(moves.includes("forward_to_d@a") && moves.includes("forward_to_d@b"), String(moves));
    } finally {
      await a.close();
      await b.close();
      await s.stop();
    }
  },
});
