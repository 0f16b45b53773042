import assert from "node:assert/strict";
import fc from "fast-check";
import { toHex } from "../_bytes.ts";
import { digest, hashLength, type HashName, hkdf, hmac, VaultError } from "./mod.ts";

const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;
const ALL: HashName[] = ["SHA256", "SHA512", "BLAKE2s", "BLAKE2b"];

Deno.test("hashLength gives each hash's output size (Noise HASHLEN)", () => {
  assert.deepEqual(ALL.map(hashLength), [32, 64, 32, 64]);
});

Deno.test("digest, hmac and hkdf outputs have the hash's length for every hash", async () => {
  const data = new Uint8Array([1, 2, 3]);
  for (const name of ALL) {
    assert.equal((await digest(name, data)).length, hashLength(name), name);
    assert.equal((await hmac(name, new Uint8Array(32), data)).length, hashLength(name), name);
    const okm = await hkdf(name, {
      salt: new Uint8Array(32),
      ikm: data,
      length: 2 * hashLength(name),
    });
    assert.equal(okm.length, 2 * hashLength(name), name);
  }
});

Deno.test("hash functions reject unknown hash names with VaultError unknown-algorithm", async () => {
  for (const bogus of ["SHA1", "sha256", "BLAKE3", ""]) {
    const name = bogus as HashName;
    assert.throws(() => hashLength(name), isCode("unknown-algorithm"));
    await assert.rejects(digest(name, new Uint8Array()), isCode("unknown-algorithm"));
    await assert.rejects(
      hmac(name, new Uint8Array(32), new Uint8Array()),
      isCode("unknown-algorithm"),
    );
    await assert.rejects(
      hkdf(name, { salt: new Uint8Array(), ikm: new Uint8Array(), length: 32 }),
      isCode("unknown-algorithm"),
    );
  }
});

Deno.test("hkdf rejects a length of 0, a fraction, or more than 255 x HASHLEN with VaultError bad-length", async () => {
  for (const name of ALL) {
    for (const length of [0, -1, 1.5, 255 * hashLength(name) + 1]) {
      await assert.rejects(
        hkdf(name, { salt: new Uint8Array(), ikm: new Uint8Array(8), length }),
        isCode("bad-length"),
        `${name} ${length}`,
      );
    }
    const longest = await hkdf(name, {
      salt: new Uint8Array(),
      ikm: new Uint8Array(8),
      length: 255 * hashLength(name),
    });
    assert.equal(longest.length, 255 * hashLength(name));
  }
});

Deno.test("hkdf with no info equals hkdf with empty info (Noise's HKDF)", async () => {
  const salt = new Uint8Array(32).fill(1);
  const ikm = new Uint8Array(32).fill(2);
  for (const name of ALL) {
    assert.equal(
      toHex(await hkdf(name, { salt, ikm, length: 64 })),
      toHex(await hkdf(name, { salt, ikm, info: new Uint8Array(), length: 64 })),
    );
  }
});

for (const name of ["SHA256", "SHA512"] as const) {
  Deno.test(`HKDF-${name} on WebCrypto equals noble for random inputs and lengths (property)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.integer({ min: 1, max: 255 * hashLength(name) }),
        async (salt, ikm, info, length) => {
          const web = await hkdf(name, { salt, ikm, info, length, backend: "webcrypto" });
          const noble = await hkdf(name, { salt, ikm, info, length, backend: "noble" });
          assert.equal(toHex(web), toHex(noble));
        },
      ),
      { numRuns: 40 },
    );
  });

  Deno.test(`${name} digest and HMAC on WebCrypto equal noble for random inputs (property)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 200 }),
        async (key, data) => {
          assert.equal(
            toHex(await digest(name, data, { backend: "webcrypto" })),
            toHex(await digest(name, data, { backend: "noble" })),
          );
          assert.equal(
            toHex(await hmac(name, key, data, { backend: "webcrypto" })),
            toHex(await hmac(name, key, data, { backend: "noble" })),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
}

Deno.test("hmac accepts an empty key on every path (RFC 2104 zero-pads the key)", async () => {
  const data = new TextEncoder().encode("abc");
  for (const name of ["SHA256", "SHA512"] as const) {
    const web = await hmac(name, new Uint8Array(), data, { backend: "webcrypto" });
    assert.equal(toHex(web), toHex(await hmac(name, new Uint8Array(), data, { backend: "noble" })));
    assert.equal(toHex(web), toHex(await hmac(name, new Uint8Array(1), data)));
  }
  for (const name of ["BLAKE2s", "BLAKE2b"] as const) {
    assert.equal((await hmac(name, new Uint8Array(), data)).length, hashLength(name));
  }
});
