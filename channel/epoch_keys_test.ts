import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { EpochKeys } from "./epoch_keys.ts";

class CountingKey {
  static derivations = 0;
  constructor(readonly epoch: number) {}
  rekeyed(): Promise<CountingKey> {
    CountingKey.derivations++;
    return Promise.resolve(new CountingKey(this.epoch + 1));
  }
}

Deno.test("epoch keys derive each epoch at most once, however often it is asked for", async () => {
  CountingKey.derivations = 0;
  const keys = new EpochKeys(new CountingKey(0));
  const asks = [
    keys.keyForNonce(32 * 100),
    keys.keyForNonce(32 * 100 + 5),
    keys.keyForNonce(32 * 50),
  ];
  const [a, b, c] = await Promise.all(asks);
  assert.equal(a!.epoch, 100);
  assert.equal(b, a);
  assert.equal(c!.epoch, 50);
  await keys.keyForNonce(32 * 100);
  assert.equal(CountingKey.derivations, 100);
});

Deno.test("epoch keys refuse a nonce beyond the bound with a typed error", async () => {
  const keys = new EpochKeys(new CountingKey(0), { maxEpochsAhead: 10 });
  await assert.rejects(
    keys.keyForNonce(32 * 11),
    (e) => e instanceof ChannelError && e.code === "too-far-ahead",
  );
  assert.equal((await keys.keyForNonce(32 * 10)).epoch, 10);
});

Deno.test("epoch keys follow the authenticated epoch and drop keys no frame can use", async () => {
  const keys = new EpochKeys(new CountingKey(0), { maxEpochsAhead: 4 });
  await keys.keyForNonce(32 * 4);
  keys.commit(4, 3);
  assert.equal(keys.size, 2); // epochs 3 and 4
  await assert.rejects(
    keys.keyForNonce(0),
    (e) => e instanceof ChannelError && e.code === "too-old",
  );
  assert.equal((await keys.keyForNonce(32 * 8)).epoch, 8); // the bound moves with the newest epoch
});
