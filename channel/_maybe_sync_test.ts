import assert from "node:assert/strict";
import { after, run, settle } from "./_maybe_sync.ts";

function* steps(values: unknown[], seen: unknown[]): Generator<unknown, string> {
  for (const v of values) seen.push(yield v);
  return "done";
}

Deno.test("run: ready values are passed back at once and the result is returned now", () => {
  const seen: unknown[] = [];
  assert.equal(run(steps([1, "two", undefined], seen)), "done");
  assert.deepEqual(seen, [1, "two", undefined]);
});

Deno.test("run: from the first promise on, values are awaited and the result is a promise", async () => {
  const seen: unknown[] = [];
  const result = run(steps([1, Promise.resolve(2), 3, Promise.resolve(4)], seen));
  assert(result instanceof Promise);
  assert.deepEqual(seen, [1]);
  assert.equal(await result, "done");
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

Deno.test("run: a rejection is thrown into the generator, which may catch it", async () => {
  function* guarded(): Generator<unknown, string> {
    try {
      yield Promise.reject(new Error("no"));
      return "not reached";
    } catch (error) {
      return `caught ${(error as Error).message}`;
    }
  }
  assert.equal(await run(guarded()), "caught no");
  function* unguarded(): Generator<unknown, string> {
    yield 1;
    yield Promise.reject(new RangeError("late"));
    return "not reached";
  }
  await assert.rejects(Promise.resolve(run(unguarded())), RangeError);
});

Deno.test("run: a synchronous throw propagates synchronously; settle makes it a rejection", async () => {
  function* throwing(): Generator<unknown, string> {
    yield 1;
    throw new TypeError("now");
  }
  assert.throws(() => run(throwing()), TypeError);
  await assert.rejects(settle(() => run(throwing())), TypeError);
  assert.equal(await settle(() => 5), 5);
});

Deno.test("after: applies now to a value, later to a promise", async () => {
  assert.equal(after(2, (x) => x * 3), 6);
  const later = after(Promise.resolve(2), (x) => x * 3);
  assert(later instanceof Promise);
  assert.equal(await later, 6);
});
