import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { type RunOptions, runTarget, showInput } from "./harness.ts";
import { applyMutation, mutated, type Mutation } from "./mutate.ts";
import { makeTargets, type Target } from "./targets.ts";

const options: RunOptions = { cases: 30, seed: 7, maxCaseMs: 1000, maxHeapGrowth: 2 ** 30 };

function target(name: string, run: (bytes: Uint8Array) => unknown): Target {
  return {
    name,
    what: name,
    async: false,
    property: (check) =>
      fc.property(fc.uint8Array({ maxLength: 8 }) as fc.Arbitrary<unknown>, (x) => {
        check(x, () => run(x as Uint8Array));
      }),
  };
}

Deno.test("every fuzz target runs 30 cases with only values and typed errors", async () => {
  const targets = await makeTargets();
  assert.ok(targets.length >= 20);
  assert.equal(new Set(targets.map((t) => t.name)).size, targets.length, "names are unique");
  for (const t of targets) {
    const row = await runTarget(t, options);
    assert.equal(row.failure, undefined, `${t.name}: ${row.failure}`);
    const total = row.outcome.values + [...row.outcome.errors.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, 30, t.name);
  }
});

Deno.test("an untyped error fails the target with the counterexample, seed and replay", async () => {
  const broken = target("broken", (bytes) => {
    if (bytes.length >= 3) throw new RangeError("boom");
    throw new DecodeError("fine", "typed errors pass");
  });
  const row = await runTarget(broken, { ...options, cases: 200 });
  assert.ok(row.failure);
  assert.match(row.failure, /seed: 7/);
  assert.match(row.failure, /RangeError: boom/);
  assert.match(row.failure, /counterexample \(hex\): 000000\n/, "shrunk to three zero bytes");
  assert.match(row.failure, /replay: .*task fuzz --target broken --seed 7 --path \S+ --cases 200/);
  const passing = await runTarget(
    target("typed", () => {
      throw new DecodeError("fine", "typed");
    }),
    options,
  );
  assert.equal(passing.failure, undefined);
  assert.equal(passing.outcome.errors.get("DecodeError:fine"), 30);
});

Deno.test("a case slower than the bound twice fails; heap growth past the bound fails", async () => {
  const slow = target("slow", (bytes) => {
    const until = performance.now() + (bytes.length > 4 ? 30 : 0);
    while (performance.now() < until) { /* spin */ }
  });
  const row = await runTarget(slow, { ...options, cases: 50, maxCaseMs: 10 });
  assert.match(row.failure ?? "", /case took \d+ ms, then \d+ ms/);
  const kept: Uint8Array[] = [];
  const leaky = target("leaky", () => kept.push(new Uint8Array(1 << 20).fill(1)));
  const leak = await runTarget(leaky, { ...options, maxHeapGrowth: 8 * 2 ** 20 });
  if (leak.growth !== undefined) assert.match(leak.failure ?? "", /heap grew by/);
  kept.length = 0;
});

Deno.test("mutations: flips, truncations, extensions, insertions, splices stay in bounds", () => {
  const seed = Uint8Array.from([1, 2, 3, 4]);
  const other = Uint8Array.from([9, 9]);
  const cases: [Mutation, number[]][] = [
    [{ kind: "flip", at: 5, bit: 0 }, [1, 3, 3, 4]],
    [{ kind: "set", at: 0, byte: 0xff }, [0xff, 2, 3, 4]],
    [{ kind: "truncate", at: 2 }, [1, 2]],
    [{ kind: "extend", bytes: Uint8Array.of(7) }, [1, 2, 3, 4, 7]],
    [{ kind: "insert", at: 1, bytes: Uint8Array.of(7) }, [1, 7, 2, 3, 4]],
    [{ kind: "delete", at: 1, length: 2 }, [1, 4]],
    [{ kind: "splice", seed: 1, from: 0, length: 2, at: 4 }, [1, 2, 3, 4, 9, 9]],
    [{ kind: "duplicate", from: 2, length: 5, at: 0 }, [3, 4, 1, 2, 3, 4]],
  ];
  for (const [m, expected] of cases) {
    assert.deepEqual([...applyMutation(seed, m, [seed, other])], expected, m.kind);
  }
  assert.deepEqual([...seed], [1, 2, 3, 4], "the seed is unchanged");
  fc.assert(fc.property(mutated([seed, new Uint8Array()]), (b) => b.length <= 4 + 4 * 64));
  assert.equal(showInput(Uint8Array.of(0, 255)), "00ff");
  assert.equal(showInput([Uint8Array.of(1), "x", 3]), '[01, "x", 3]');
});
