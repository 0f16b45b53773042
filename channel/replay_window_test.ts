import assert from "node:assert/strict";
import fc from "fast-check";
import { ReplayWindow } from "./replay_window.ts";

function accept(window: ReplayWindow, nonce: number): string {
  const verdict = window.check(nonce);
  if (verdict === "ok") window.record(nonce);
  return verdict;
}

Deno.test("replay window accepts nonce 0 once and refuses a repeat", () => {
  const w = new ReplayWindow(256);
  assert.equal(accept(w, 0), "ok");
  assert.equal(accept(w, 0), "replayed");
});

Deno.test("replay window accepts each reordered nonce within the window exactly once", () => {
  const w = new ReplayWindow(256);
  assert.equal(accept(w, 300), "ok");
  for (let n = 299; n > 300 - 256; n--) assert.equal(accept(w, n), "ok", `nonce ${n}`);
  for (let n = 299; n > 300 - 256; n--) assert.equal(accept(w, n), "replayed", `nonce ${n}`);
  assert.equal(accept(w, 300 - 256), "too-old");
});

Deno.test("replay window refuses nonces older than the window after a large gap", () => {
  const w = new ReplayWindow(256);
  accept(w, 1);
  assert.equal(accept(w, 1_000_000), "ok");
  assert.equal(accept(w, 2), "too-old");
  assert.equal(accept(w, 999_999), "ok");
  assert.equal(w.highest, 1_000_000);
});

Deno.test("replay window clears slots it slides past", () => {
  const w = new ReplayWindow(32);
  accept(w, 5);
  accept(w, 40); // slot of 40 is 8; 5..39 out of or in window
  assert.equal(accept(w, 37), "ok"); // slot 5 reused, must have been cleared
  assert.equal(accept(w, 37), "replayed");
});

Deno.test("replay window rejects a size that is not a multiple of 32", () => {
  assert.throws(() => new ReplayWindow(100), RangeError);
});

Deno.test("replay window matches a reference set model on random sequences", () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 5000 }), { maxLength: 400 }), (nonces) => {
      const w = new ReplayWindow(256);
      const seen = new Set<number>();
      let highest = -1;
      for (const n of nonces) {
        const expected = n > highest
          ? "ok"
          : highest - n >= 256
          ? "too-old"
          : seen.has(n)
          ? "replayed"
          : "ok";
        assert.equal(accept(w, n), expected);
        if (expected === "ok") {
          seen.add(n);
          highest = Math.max(highest, n);
        }
      }
    }),
  );
});
