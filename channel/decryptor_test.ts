import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { CipherState } from "./cipher_state.ts";
import { Decryptor } from "./decryptor.ts";
import { Encryptor } from "./encryptor.ts";

const KEY = new Uint8Array(32).fill(9);

async function pair(options = {}): Promise<{ encryptor: Encryptor; decryptor: Decryptor }> {
  return {
    encryptor: new Encryptor(await CipherState.create("AESGCM", KEY)),
    decryptor: new Decryptor(await CipherState.create("AESGCM", KEY), options),
  };
}

async function frames(encryptor: Encryptor, count: number): Promise<Uint8Array[]> {
  const out: Promise<Uint8Array>[] = [];
  for (let i = 0; i < count; i++) out.push(encryptor.encrypt(new Uint8Array([i & 0xff, i >> 8])));
  return await Promise.all(out);
}

function code(error: unknown): string | undefined {
  return error instanceof ChannelError ? error.code : undefined;
}

Deno.test("frames carry an explicit big-endian nonce and decrypt in order across rekeys", async () => {
  const { encryptor, decryptor } = await pair();
  const all = await frames(encryptor, 200);
  assert.deepEqual([...all[33]!.subarray(0, 8)], [0, 0, 0, 0, 0, 0, 0, 33]);
  for (const [i, frame] of all.entries()) {
    const { nonce, plaintext } = await decryptor.decrypt(frame);
    assert.equal(nonce, i);
    assert.deepEqual([...plaintext], [i & 0xff, i >> 8]);
  }
  assert.equal(decryptor.keysHeld, 1, "in-order traffic keeps one key");
});

Deno.test("reordered frames within the window are accepted exactly once", async () => {
  const { encryptor, decryptor } = await pair();
  const all = await frames(encryptor, 300);
  const order = [...all.keys()].reverse(); // worst case: newest first
  for (const i of order) assert.equal((await decryptor.decrypt(all[i]!)).nonce, i);
  for (const i of [0, 150, 299]) {
    await assert.rejects(decryptor.decrypt(all[i]!), (e) => code(e) === "replayed");
  }
  // Every epoch's nonces arrived: only the newest epoch's key is left.
  assert.equal(decryptor.keysHeld, 1);
});

Deno.test("a replayed frame is refused and the decryptor stays usable", async () => {
  const { encryptor, decryptor } = await pair();
  const [a, b] = await frames(encryptor, 2);
  await decryptor.decrypt(a!);
  await assert.rejects(decryptor.decrypt(a!), (e) => code(e) === "replayed");
  assert.equal((await decryptor.decrypt(b!)).nonce, 1);
});

Deno.test("a frame older than the window is refused as too-old", async () => {
  const { encryptor, decryptor } = await pair({ windowSize: 256 });
  const all = await frames(encryptor, 400);
  await decryptor.decrypt(all[399]!);
  await assert.rejects(decryptor.decrypt(all[399 - 256]!), (e) => code(e) === "too-old");
  assert.equal((await decryptor.decrypt(all[399 - 255]!)).nonce, 144);
});

Deno.test("the receiver catches up across 2^20 lost messages in one step", async () => {
  const { encryptor, decryptor } = await pair();
  const first = await encryptor.encrypt(new Uint8Array([1]));
  await decryptor.decrypt(first);
  // Skip 2^20 nonces without encrypting them: derive the sender's state by rekeying.
  let key = await CipherState.create("AESGCM", KEY);
  const target = 2 ** 20;
  for (let epoch = 0; epoch < target / 32; epoch++) key = await key.rekeyed();
  const sealed = await key.encryptAt(BigInt(target), new Uint8Array(), new Uint8Array([2]));
  const frame = new Uint8Array(8 + sealed.length);
  new DataView(frame.buffer).setBigUint64(0, BigInt(target));
  frame.set(sealed, 8);
  const { nonce, plaintext } = await decryptor.decrypt(frame);
  assert.equal(nonce, target);
  assert.deepEqual([...plaintext], [2]);
});

Deno.test("a frame pointing further ahead than the bound is refused without work", async () => {
  const { decryptor } = await pair({ maxEpochsAhead: 4 });
  const frame = new Uint8Array(8 + 16);
  new DataView(frame.buffer).setBigUint64(0, 32n * 5n);
  await assert.rejects(decryptor.decrypt(frame), (e) => code(e) === "too-far-ahead");
  assert.equal(decryptor.keysHeld, 1);
});

Deno.test("a forged frame is refused, records nothing, and derives each epoch key once", async () => {
  const { encryptor, decryptor } = await pair();
  const all = await frames(encryptor, 100);
  const forged = all[97]!.slice();
  forged[20]! ^= 1;
  await assert.rejects(decryptor.decrypt(forged), (e) => code(e) === "decrypt-failed");
  const held = decryptor.keysHeld; // epochs 0..3 derived once
  assert.equal(held, 4);
  assert.equal(decryptor.usableKeysHeld, 1, "epochs 1 to 3 are kept as bytes, epoch 0 usable");
  await assert.rejects(decryptor.decrypt(forged), (e) => code(e) === "decrypt-failed");
  assert.equal(decryptor.keysHeld, held, "a repeated forgery derives nothing new");
  assert.equal(decryptor.keysDerived, 3);
  // Nothing was recorded: the genuine frame with that nonce is still accepted.
  assert.equal((await decryptor.decrypt(all[97]!)).nonce, 97);
});

Deno.test("truncated frames and nonces beyond 2^53 are typed errors", async () => {
  const { decryptor } = await pair();
  await assert.rejects(decryptor.decrypt(new Uint8Array(23)), (e) => code(e) === "truncated");
  const huge = new Uint8Array(30).fill(0xff);
  await assert.rejects(decryptor.decrypt(huge), (e) => code(e) === "bad-nonce");
});

Deno.test("concurrent copies of one frame are accepted once", async () => {
  const { encryptor, decryptor } = await pair();
  const [frame] = await frames(encryptor, 1);
  const results = await Promise.allSettled([decryptor.decrypt(frame!), decryptor.decrypt(frame!)]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
});

Deno.test("a forged frame at the catch-up bound costs bounded memory: skipped epochs as bytes", async () => {
  const { decryptor } = await pair();
  const frame = new Uint8Array(8 + 32);
  new DataView(frame.buffer).setBigUint64(0, BigInt(2 ** 20 - 1));
  await assert.rejects(decryptor.decrypt(frame), (e) => code(e) === "decrypt-failed");
  assert.equal(decryptor.keysHeld, 2 ** 15, "every epoch up to the bound derived once");
  assert.equal(decryptor.usableKeysHeld, 1, "only epoch 0 is a usable key: the forgery kept none");
});

/** A frame with `nonce` and 32 bytes that are no valid ciphertext. */
function forgedAt(nonce: number): Uint8Array {
  const frame = new Uint8Array(8 + 32);
  new DataView(frame.buffer).setBigUint64(0, BigInt(nonce));
  return frame;
}

Deno.test("a forged far-ahead frame holds back no frame whose key is at hand", async () => {
  const { encryptor, decryptor } = await pair();
  assert.equal(decryptor.isKeyed(forgedAt(2 ** 20 - 1)), false);
  const forged = decryptor.decrypt(forgedAt(2 ** 20 - 1));
  forged.catch(() => {});
  // 64 frames cross two epoch boundaries: their keys come first in the derivation order.
  for (const frame of await frames(encryptor, 64)) await decryptor.decrypt(frame);
  // Before, each of these waited behind the forged frame's 32,768 rekeys; now they are all
  // through while that derivation is still running.
  assert.ok(decryptor.keysDerived < 2 ** 15, "the derivation for the forgery is still running");
  decryptor.close();
  await assert.rejects(forged, (e) => code(e) === "closed");
});

Deno.test("a thousand forged far-ahead frames cost each epoch's derivation once in all", async () => {
  const { encryptor, decryptor } = await pair();
  await decryptor.decrypt((await frames(encryptor, 1))[0]!);
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const nonces = Array.from({ length: 1000 }, () => 32 + Math.floor(random() * (2 ** 20 - 32)));
  const results = await Promise.allSettled(nonces.map((n) => decryptor.decrypt(forgedAt(n))));
  assert.ok(results.every((r) => r.status === "rejected" && code(r.reason) === "decrypt-failed"));
  const highest = Math.floor(Math.max(...nonces) / 32);
  assert.equal(decryptor.keysDerived, highest, "each epoch up to the furthest derived once");
  assert.equal(decryptor.usableKeysHeld, 1, "no forgery left a usable key behind");
  // The same frames again derive nothing more.
  await Promise.allSettled(nonces.slice(0, 100).map((n) => decryptor.decrypt(forgedAt(n))));
  assert.equal(decryptor.keysDerived, highest);
  // Genuine traffic still flows.
  const [next] = await frames(encryptor, 1);
  assert.equal((await decryptor.decrypt(next!)).nonce, 1);
});
