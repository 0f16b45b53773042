import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { EpochKeys } from "./epoch_keys.ts";

// A stand-in key whose "bytes" are its epoch number; counts derivations and openings.
class CountingKey {
  static derivations = 0;
  static opened = 0;
  constructor(readonly epoch: number) {}
  rekeyedKeyBytes(): Promise<Uint8Array> {
    CountingKey.derivations++;
    return Promise.resolve(new Uint8Array(new Uint32Array([this.epoch + 1]).buffer));
  }
  static open(bytes: Uint8Array): Promise<CountingKey> {
    CountingKey.opened++;
    return Promise.resolve(new CountingKey(new Uint32Array(bytes.slice().buffer)[0]!));
  }
}

function keys(maxEpochsAhead?: number): EpochKeys<CountingKey> {
  CountingKey.derivations = 0;
  CountingKey.opened = 0;
  return new EpochKeys(new CountingKey(0), {
    open: CountingKey.open,
    ...(maxEpochsAhead ? { maxEpochsAhead } : {}),
  });
}

Deno.test("epoch keys derive each epoch at most once, however often it is asked for", async () => {
  const k = keys();
  const asks = [k.keyForNonce(32 * 100), k.keyForNonce(32 * 100 + 5), k.keyForNonce(32 * 50)];
  const [a, b, c] = await Promise.all(asks);
  assert.equal(a!.epoch, 100);
  assert.equal(b, a);
  assert.equal(c!.epoch, 50);
  await k.keyForNonce(32 * 100);
  await k.keyForNonce(32 * 50);
  assert.equal(CountingKey.derivations, 100);
});

Deno.test("skipped epochs are kept as bytes; only epochs frames need are usable keys", async () => {
  const k = keys();
  await k.keyForNonce(32 * 1000);
  assert.equal(k.size, 1001);
  assert.equal(k.usableSize, 2, "epoch 0 and the frontier");
  await k.keyForNonce(32 * 500);
  assert.equal(k.usableSize, 3);
  assert.equal(CountingKey.derivations, 1000, "opening a skipped epoch derives nothing");
});

Deno.test("epoch keys refuse a nonce beyond the bound with a typed error", async () => {
  const k = keys(10);
  await assert.rejects(
    k.keyForNonce(32 * 11),
    (e) => e instanceof ChannelError && e.code === "too-far-ahead",
  );
  assert.equal((await k.keyForNonce(32 * 10)).epoch, 10);
});

Deno.test("epoch keys follow the authenticated epoch and drop keys no frame can use", async () => {
  const k = keys(4);
  await k.keyForNonce(32 * 4);
  k.commit(4, 3);
  assert.equal(k.size, 2); // epochs 3 and 4
  await assert.rejects(k.keyForNonce(0), (e) => e instanceof ChannelError && e.code === "too-old");
  assert.equal((await k.keyForNonce(32 * 8)).epoch, 8); // the bound moves with the newest epoch
});

Deno.test("a far epoch is derived in the background: nearer keys do not wait for it", async () => {
  const k = keys();
  const far = k.keyForNonce(32 * 20_000);
  assert.equal(k.isReady(20_000), false);
  assert.equal(k.isReady(0), true);
  let farDone = false;
  void far.then(() => farDone = true);
  const near = await k.keyForNonce(32 * 3);
  assert.equal(near.epoch, 3);
  assert.equal(farDone, false, "epoch 3 came first, in derivation order");
  assert.equal((await far).epoch, 20_000);
  assert.equal(CountingKey.derivations, 20_000);
  k.close();
});

Deno.test("derivation lets timers run between slices, even when each step is a microtask", async () => {
  const k = keys();
  const far = k.keyForNonce(32 * 20_000);
  let derivedWhenTimerRan = -1;
  setTimeout(() => derivedWhenTimerRan = k.derivations, 0);
  await far;
  assert.ok(
    derivedWhenTimerRan >= 0 && derivedWhenTimerRan < 20_000,
    `the timer ran after ${derivedWhenTimerRan} of 20,000 derivations`,
  );
  k.close();
});

Deno.test("a key made for a frame that did not authenticate is let go; the bytes stay", async () => {
  const k = keys();
  await k.keyForNonce(32 * 5);
  assert.equal(k.usableSize, 2);
  k.release(5);
  assert.equal(k.usableSize, 1, "only epoch 0");
  assert.equal(k.size, 6, "epochs 1 to 5 as bytes, epoch 0 usable");
  await k.keyForNonce(32 * 5);
  k.commit(5, 0);
  k.release(5);
  assert.equal(k.usableSize, 2, "an authenticated epoch keeps its usable key");
  assert.equal(CountingKey.derivations, 5);
  k.close();
});

Deno.test("closing stops the derivation and fails waiting frames with closed", async () => {
  const k = keys();
  const far = k.keyForNonce(32 * 30_000);
  k.close();
  await assert.rejects(far, (e) => e instanceof ChannelError && e.code === "closed");
  const derived = k.derivations;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(k.derivations, derived, "nothing is derived after close");
  assert.ok(derived < 30_000);
  await assert.rejects(k.keyForNonce(0), (e) => e instanceof ChannelError && e.code === "closed");
});

Deno.test("held bytes stay bounded as traffic moves on: old epochs leave the slab", async () => {
  const k = keys(64);
  for (let epoch = 1; epoch <= 2000; epoch++) {
    await k.keyForNonce(32 * epoch);
    k.commit(epoch, epoch - 2);
  }
  assert.ok(k.size <= 3, `held ${k.size}`);
  assert.equal(CountingKey.derivations, 2000);
  k.close();
});
