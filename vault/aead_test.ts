import assert from "node:assert/strict";
import fc from "fast-check";
import { concat } from "../_bytes.ts";
import {
  type AeadAlgorithm,
  type AeadKey,
  type Backend,
  importAeadKey,
  VaultError,
} from "./mod.ts";

// Each AEAD on each path it has: AES-GCM on WebCrypto and noble, ChaCha20-Poly1305 on noble.
const CASES: [AeadAlgorithm, Backend | undefined][] = [
  ["AES-256-GCM", "webcrypto"],
  ["AES-256-GCM", "noble"],
  ["ChaCha20-Poly1305", undefined],
];
const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

function load(algorithm: AeadAlgorithm, raw: Uint8Array, backend?: Backend): Promise<AeadKey> {
  return importAeadKey(algorithm, raw, backend ? { backend } : {});
}

for (const [algorithm, backend] of CASES) {
  const label = `${algorithm}${backend ? ` (${backend})` : ""}`;

  Deno.test(`${label} seals to plaintext length + 16 and opens back`, async () => {
    const key = await load(algorithm, random(32), backend);
    assert.equal(key.algorithm, algorithm);
    for (const size of [0, 1, 15, 16, 17, 1024]) {
      const nonce = random(12);
      const plaintext = random(size);
      const sealed = await key.seal(nonce, plaintext, random(5));
      assert.equal(sealed.length, size + 16);
      await assert.rejects(
        key.open(nonce, sealed),
        isCode("decrypt-failed"),
        "ad is authenticated",
      );
    }
  });

  Deno.test(`${label} rejects a key that is not 32 bytes with VaultError bad-key-length`, async () => {
    for (const length of [0, 16, 24, 31, 33, 64]) {
      await assert.rejects(
        load(algorithm, new Uint8Array(length), backend),
        isCode("bad-key-length"),
      );
    }
  });

  Deno.test(`${label} rejects a nonce that is not 12 bytes with VaultError bad-nonce`, async () => {
    const key = await load(algorithm, random(32), backend);
    const sealed = await key.seal(new Uint8Array(12), random(8));
    for (const length of [0, 8, 11, 13, 16, 24]) {
      await assert.rejects(key.seal(new Uint8Array(length), random(8)), isCode("bad-nonce"));
      await assert.rejects(key.open(new Uint8Array(length), sealed), isCode("bad-nonce"));
    }
  });

  Deno.test(`${label} rejects tampered ciphertext, tag, ad, nonce or key with VaultError decrypt-failed`, async () => {
    const raw = random(32);
    const key = await load(algorithm, raw, backend);
    const nonce = random(12);
    const ad = random(20);
    const sealed = await key.seal(nonce, random(40), ad);
    const flip = (bytes: Uint8Array, at: number): Uint8Array => {
      const copy = bytes.slice();
      copy[at]! ^= 0x01;
      return copy;
    };
    await assert.rejects(
      key.open(nonce, flip(sealed, 0), ad),
      isCode("decrypt-failed"),
      "ciphertext",
    );
    await assert.rejects(
      key.open(nonce, flip(sealed, sealed.length - 1), ad),
      isCode("decrypt-failed"),
      "tag",
    );
    await assert.rejects(key.open(nonce, sealed, flip(ad, 3)), isCode("decrypt-failed"), "ad");
    await assert.rejects(
      key.open(nonce, sealed, new Uint8Array()),
      isCode("decrypt-failed"),
      "no ad",
    );
    await assert.rejects(key.open(flip(nonce, 11), sealed, ad), isCode("decrypt-failed"), "nonce");
    await assert.rejects(
      key.open(nonce, sealed.subarray(0, sealed.length - 1), ad),
      isCode("decrypt-failed"),
      "truncated",
    );
    await assert.rejects(
      key.open(nonce, concat(sealed, new Uint8Array(1)), ad),
      isCode("decrypt-failed"),
      "extended",
    );
    for (const length of [0, 1, 15]) {
      await assert.rejects(
        key.open(nonce, new Uint8Array(length), ad),
        isCode("decrypt-failed"),
        `${length} bytes`,
      );
    }
    const other = await load(algorithm, flip(raw, 0), backend);
    await assert.rejects(other.open(nonce, sealed, ad), isCode("decrypt-failed"), "key");
  });

  Deno.test(`${label} round-trips random keys, nonces, payloads and ad (property)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 64 }),
        async (raw, nonce, plaintext, ad) => {
          const key = await load(algorithm, raw, backend);
          const opened = await key.open(nonce, await key.seal(nonce, plaintext, ad), ad);
          assert.deepEqual(opened, plaintext);
        },
      ),
      { numRuns: 50 },
    );
  });

  Deno.test(`${label} rejects any single-bit flip in the sealed bytes (property)`, async () => {
    const key = await load(algorithm, random(32), backend);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 32 }),
        fc.nat(),
        async (nonce, plaintext, ad, position) => {
          const sealed = await key.seal(nonce, plaintext, ad);
          const bit = position % (sealed.length * 8);
          sealed[bit >> 3]! ^= 1 << (bit & 7);
          await assert.rejects(key.open(nonce, sealed, ad), isCode("decrypt-failed"));
        },
      ),
      { numRuns: 60 },
    );
  });
}

Deno.test("AES-256-GCM sealed on WebCrypto opens on noble and vice versa", async () => {
  const raw = random(32);
  const web = await load("AES-256-GCM", raw, "webcrypto");
  const noble = await load("AES-256-GCM", raw, "noble");
  const nonce = random(12);
  const plaintext = random(100);
  const ad = random(7);
  assert.deepEqual(await noble.open(nonce, await web.seal(nonce, plaintext, ad), ad), plaintext);
  assert.deepEqual(await web.open(nonce, await noble.seal(nonce, plaintext, ad), ad), plaintext);
});

Deno.test("importAeadKey rejects an unknown algorithm with VaultError unknown-algorithm", async () => {
  for (const name of ["AES-128-GCM", "XChaCha20-Poly1305", ""]) {
    await assert.rejects(
      importAeadKey(name as AeadAlgorithm, random(32)),
      isCode("unknown-algorithm"),
    );
  }
});

Deno.test("an AEAD key copies its key bytes: changing the caller's array changes nothing", async () => {
  for (const backend of ["noble", undefined] as const) {
    const raw = random(32);
    const algorithm = backend ? "AES-256-GCM" : "ChaCha20-Poly1305";
    const key = await load(algorithm, raw, backend);
    const nonce = random(12);
    const sealed = await key.seal(nonce, random(10));
    raw.fill(0);
    assert.equal((await key.open(nonce, sealed)).length, 10);
  }
});
