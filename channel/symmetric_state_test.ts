import assert from "node:assert/strict";
import { concat, toHex } from "../_bytes.ts";
import { digest, hkdf } from "../vault/mod.ts";
import { CipherState } from "./cipher_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "./suite.ts";
import { SymmetricState } from "./symmetric_state.ts";

const EMPTY = new Uint8Array(0);
const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("InitializeSymmetric pads a short name and hashes a long one (§5.2)", async () => {
  const short = "Noise_NN_448_AESGCM_SHA512";
  const padded = new Uint8Array(64);
  padded.set(encode(short));
  assert.deepEqual((await SymmetricState.initialize(short)).handshakeHash, padded);
  const long = "Noise_XXpsk3_25519_ChaChaPoly_SHA256"; // 36 > 32
  assert.deepEqual(
    (await SymmetricState.initialize(long)).handshakeHash,
    await digest("SHA256", encode(long)),
  );
  const exact = OCKAM_XX_PROTOCOL_NAME; // exactly 32 = HASHLEN: used as is
  assert.deepEqual((await SymmetricState.initialize(exact)).handshakeHash, encode(exact));
});

Deno.test("MixHash and MixKey match HASH and HKDF computed independently (WebCrypto)", async () => {
  const ss = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
  const h0 = ss.handshakeHash;
  ss.mixHash(encode("prologue"));
  const h1 = await digest("SHA256", concat(h0, encode("prologue")));
  assert.deepEqual(ss.handshakeHash, h1);
  const ikm = new Uint8Array(32).fill(9);
  await ss.mixKey(ikm);
  const okm = await hkdf("SHA256", { salt: h0, ikm, length: 64 }); // ck0 = h0
  const key = await CipherState.create("AESGCM", okm.subarray(32, 64));
  const ct = await ss.encryptAndHash(encode("x"));
  assert.deepEqual(ct, await key.encryptWithAd(h1, encode("x")));
  assert.deepEqual(ss.handshakeHash, await digest("SHA256", concat(h1, ct)));
});

async function splitKeys(name: string, ikm: Uint8Array): Promise<[CipherState, CipherState]> {
  // ck after one MixKey(ikm) from ck0 = the 32-byte name, then HKDF(ck, "") → k1, k2.
  const ck0 = encode(name);
  const ck1 = (await hkdf("SHA256", { salt: ck0, ikm, length: 64 })).subarray(0, 32);
  const okm = await hkdf("SHA256", { salt: ck1, ikm: EMPTY, length: 64 });
  return [
    await CipherState.create("AESGCM", okm.subarray(0, 32)),
    await CipherState.create("AESGCM", okm.subarray(32, 64)),
  ];
}

Deno.test("Split: Noise order is [k1, k2]; the OCKAM profile keys c1 with k2 (OCKAM_WIRE §3.1)", async () => {
  const ikm = new Uint8Array(32).fill(4);
  const pt = encode("direction");
  for (
    const [name, reversed] of [
      ["Noise_NN_25519_AESGCM_SHA256", false],
      [OCKAM_XX_PROTOCOL_NAME, true],
    ] as const
  ) {
    const ss = await SymmetricState.initialize(name);
    await ss.mixKey(ikm);
    const [c1, c2] = await ss.split();
    const [k1, k2] = await splitKeys(name, ikm);
    const c1Key = reversed ? k2 : k1;
    const c2Key = reversed ? k1 : k2;
    assert.deepEqual(await c1Key.decryptAt(0n, EMPTY, await c1.encryptAt(0n, EMPTY, pt)), pt, name);
    assert.deepEqual(await c2Key.decryptAt(0n, EMPTY, await c2.encryptAt(0n, EMPTY, pt)), pt, name);
  }
});

Deno.test("MixKeyAndHash feeds all three HKDF outputs (§5.2)", async () => {
  const name = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";
  const ss = await SymmetricState.initialize(name);
  const h0 = ss.handshakeHash;
  const psk = new Uint8Array(32).fill(5);
  await ss.mixKeyAndHash(psk);
  const okm = await hkdf("SHA256", { salt: h0, ikm: psk, length: 96 });
  const h1 = await digest("SHA256", concat(h0, okm.subarray(32, 64)));
  assert.equal(toHex(ss.handshakeHash), toHex(h1));
  const key = await CipherState.create("ChaChaPoly", okm.subarray(64, 96));
  assert.deepEqual(await ss.encryptAndHash(EMPTY), await key.encryptWithAd(h1, EMPTY));
});

Deno.test("64-byte hashes: keys are truncated to 32 bytes", async () => {
  const a = await SymmetricState.initialize("Noise_NN_25519_AESGCM_BLAKE2b");
  const b = await SymmetricState.initialize("Noise_NN_25519_AESGCM_BLAKE2b");
  await a.mixKey(new Uint8Array(32));
  await b.mixKey(new Uint8Array(32));
  assert.equal(a.handshakeHash.length, 64);
  assert.deepEqual(await b.decryptAndHash(await a.encryptAndHash(encode("ok"))), encode("ok"));
});
