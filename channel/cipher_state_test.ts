import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { importAeadKey } from "../vault/mod.ts";
import { CipherState } from "./cipher_state.ts";

const EMPTY = new Uint8Array(0);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const MAX = 2n ** 64n - 1n;

Deno.test("nonce layout: AESGCM big-endian, ChaChaPoly little-endian, after 4 zero bytes", async () => {
  const n = 0x0102030405060708n;
  const be = new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const le = new Uint8Array([0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
  const pt = new Uint8Array([1, 2, 3]);
  const aes = await CipherState.create("AESGCM", KEY);
  const aesRaw = await importAeadKey("AES-256-GCM", KEY);
  assert.deepEqual(await aes.encryptAt(n, EMPTY, pt), await aesRaw.seal(be, pt));
  const chacha = await CipherState.create("ChaChaPoly", KEY);
  const chachaRaw = await importAeadKey("ChaCha20-Poly1305", KEY);
  assert.deepEqual(await chacha.encryptAt(n, EMPTY, pt), await chachaRaw.seal(le, pt));
});

Deno.test("the counter advances on encrypt and on successful decrypt only", async () => {
  const a = await CipherState.create("AESGCM", KEY);
  const b = await CipherState.create("AESGCM", KEY);
  const c0 = await a.encryptWithAd(EMPTY, new Uint8Array([0]));
  const c1 = await a.encryptWithAd(EMPTY, new Uint8Array([1]));
  assert.equal(a.nonce, 2n);
  await assert.rejects(b.decryptWithAd(EMPTY, c1), ChannelError);
  assert.equal(b.nonce, 0n);
  assert.deepEqual(await b.decryptWithAd(EMPTY, c0), new Uint8Array([0]));
  assert.deepEqual(await b.decryptWithAd(EMPTY, c1), new Uint8Array([1]));
  assert.equal(b.nonce, 2n);
});

Deno.test("setNonce: 2^64-2 is the last usable nonce; at 2^64-1 every call is 'nonce-exhausted'", async () => {
  const a = await CipherState.create("ChaChaPoly", KEY);
  const b = await CipherState.create("ChaChaPoly", KEY);
  a.setNonce(MAX - 1n);
  b.setNonce(MAX - 1n);
  const ct = await a.encryptWithAd(EMPTY, new Uint8Array([7]));
  assert.deepEqual(await b.decryptWithAd(EMPTY, ct), new Uint8Array([7]));
  assert.equal(a.nonce, MAX);
  for (const cs of [a, b]) {
    await assert.rejects(cs.encryptWithAd(EMPTY, EMPTY), {
      name: "ChannelError",
      code: "nonce-exhausted",
    });
    await assert.rejects(cs.decryptWithAd(EMPTY, ct), {
      name: "ChannelError",
      code: "nonce-exhausted",
    });
    await assert.rejects(cs.encryptAt(MAX, EMPTY, EMPTY), { code: "nonce-exhausted" });
    await assert.rejects(cs.decryptAt(MAX, EMPTY, ct), { code: "nonce-exhausted" });
  }
  assert.throws(() => a.setNonce(MAX + 1n), RangeError);
  assert.throws(() => a.setNonce(-1n), RangeError);
  await assert.rejects(a.encryptAt(-1n, EMPTY, EMPTY), RangeError);
});

Deno.test("rekey is REKEY(k) of §11.3 and both sides agree afterwards", async () => {
  for (
    const [cipher, algorithm, maxNonce] of [
      [
        "AESGCM",
        "AES-256-GCM",
        new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]),
      ],
      [
        "ChaChaPoly",
        "ChaCha20-Poly1305",
        new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]),
      ],
    ] as const
  ) {
    const a = await CipherState.create(cipher, KEY);
    const b = await CipherState.create(cipher, KEY);
    const pt = new Uint8Array([1, 2, 3]);
    const before = await a.encryptAt(0n, EMPTY, pt);
    a.setNonce(5n);
    await a.rekey();
    assert.equal(a.nonce, 5n, "rekey keeps the counter");
    const after = await a.encryptAt(0n, EMPTY, pt);
    assert.notDeepEqual(after, before);
    // Independent computation: first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros(32)).
    const raw = await importAeadKey(algorithm, KEY);
    const newKey = (await raw.seal(maxNonce, new Uint8Array(32), EMPTY)).subarray(0, 32);
    const expected = await (await importAeadKey(algorithm, newKey)).seal(new Uint8Array(12), pt);
    assert.deepEqual(after, expected);
    await b.rekey();
    assert.deepEqual(await b.decryptAt(0n, EMPTY, after), pt);
  }
});

Deno.test("rekeyed() returns the next epoch's state and leaves this one unchanged", async () => {
  const epoch0 = await CipherState.create("AESGCM", KEY);
  epoch0.setNonce(31n);
  const epoch1 = await epoch0.rekeyed();
  assert.equal(epoch1.nonce, 31n);
  const pt = new Uint8Array([9]);
  const c0 = await epoch0.encryptAt(32n, EMPTY, pt);
  const c1 = await epoch1.encryptAt(32n, EMPTY, pt);
  assert.notDeepEqual(c0, c1);
  const peer0 = await CipherState.create("AESGCM", KEY);
  assert.deepEqual(await peer0.decryptAt(32n, EMPTY, c0), pt);
  const peer1 = await peer0.rekeyed();
  assert.deepEqual(await peer1.decryptAt(32n, EMPTY, c1), pt);
  await peer0.rekey();
  assert.deepEqual(await peer0.decryptAt(32n, EMPTY, c1), pt);
});

Deno.test("without a key, data passes through and explicit-nonce calls refuse", async () => {
  const cs = await CipherState.create("AESGCM");
  assert(!cs.hasKey);
  const data = new Uint8Array([1, 2]);
  assert.deepEqual(await cs.encryptWithAd(EMPTY, data), data);
  assert.deepEqual(await cs.decryptWithAd(EMPTY, data), data);
  await assert.rejects(cs.encryptAt(0n, EMPTY, data), { code: "no-key" });
  await assert.rejects(cs.rekey(), { code: "no-key" });
});

Deno.test("create checks the cipher and key length; toString shows no key", async () => {
  await assert.rejects(CipherState.create("AESGCM", new Uint8Array(16)), RangeError);
  await assert.rejects(CipherState.create("AES128" as unknown as "AESGCM", KEY), TypeError);
  const cs = await CipherState.create("AESGCM", KEY);
  assert.equal(String(cs), "CipherState(AESGCM, keyed, n=0)");
});

Deno.test("associated data is authenticated", async () => {
  const a = await CipherState.create("ChaChaPoly", KEY);
  const b = await CipherState.create("ChaChaPoly", KEY);
  const ct = await a.encryptWithAd(new Uint8Array([1]), new Uint8Array([5]));
  await assert.rejects(b.decryptWithAd(new Uint8Array([2]), ct), { code: "decrypt-failed" });
});
