// The synchronous AES-256-GCM backends (OpenSSL through FFI, node:crypto) against the GCM
// spec's vectors and against WebCrypto on random inputs; every tampering refused.
import assert from "node:assert/strict";
import fc from "fast-check";
import aesGcm from "./testdata/aes_256_gcm.json" with { type: "json" };
import { fromHex, toHex } from "../_bytes.ts";
import {
  aeadBackend,
  importAeadKey,
  installNativeAead,
  isSyncAeadKey,
  type NativeAead,
  VaultError,
} from "./mod.ts";
import { nodeCryptoAead, openSslAead, useNativeAead } from "./deno.ts";

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const failed = (e: unknown) => e instanceof VaultError && e.code === "decrypt-failed";
const providers: NativeAead[] = [nodeCryptoAead()];
const ffi = openSslAead();
if (ffi) providers.unshift(ffi);

Deno.test("OpenSSL's AES-256-GCM loads through FFI here (libcrypto 3, --allow-ffi)", () => {
  assert.ok(ffi, "tests run with --allow-all on a machine with libcrypto.so.3");
  assert.equal(useNativeAead(), "openssl-ffi");
  assert.equal(aeadBackend(), "openssl-ffi");
  installNativeAead(undefined);
  assert.equal(aeadBackend(), "webcrypto");
});

for (const provider of providers) {
  const withProvider = async (body: () => Promise<void>) => {
    installNativeAead(provider);
    try {
      await body();
    } finally {
      installNativeAead(undefined);
    }
  };

  Deno.test(`${provider.name}: the GCM spec's 256-bit vectors, sealed and opened synchronously`, () =>
    withProvider(async () => {
      for (const v of aesGcm.vectors) {
        const key = await importAeadKey("AES-256-GCM", fromHex(v.key));
        assert(isSyncAeadKey(key));
        const sealed = key.sealSync(fromHex(v.iv), fromHex(v.plaintext), fromHex(v.aad));
        assert.equal(toHex(sealed), v.ciphertext + v.tag, v.name);
        assert.equal(toHex(key.openSync(fromHex(v.iv), sealed, fromHex(v.aad))), v.plaintext);
        assert.equal(toHex(await key.open(fromHex(v.iv), sealed, fromHex(v.aad))), v.plaintext);
      }
    }));

  Deno.test(`${provider.name}: agrees with WebCrypto both ways on random inputs, up to 64 KiB (property)`, () =>
    withProvider(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.constantFrom(0, 1, 17, 16 * 1024 + 1, 64 * 1024),
          async (raw, nonce, small, ad, extra) => {
            const plaintext = extra ? random(extra) : small;
            const native = await importAeadKey("AES-256-GCM", raw);
            const web = await importAeadKey("AES-256-GCM", raw, { backend: "webcrypto" });
            const sealed = await native.seal(nonce, plaintext, ad);
            assert.deepEqual(sealed, await web.seal(nonce, plaintext, ad));
            assert.deepEqual(await web.open(nonce, sealed, ad), plaintext);
            assert.deepEqual(
              await native.open(nonce, await web.seal(nonce, plaintext, ad), ad),
              plaintext,
            );
          },
        ),
        { numRuns: 60 },
      );
    }));

  Deno.test(`${provider.name}: a flipped bit, a short frame, a wrong ad, nonce or key is refused`, () =>
    withProvider(async () => {
      const raw = random(32);
      const key = await importAeadKey("AES-256-GCM", raw);
      assert(isSyncAeadKey(key));
      const nonce = random(12);
      const ad = random(5);
      const sealed = key.sealSync(nonce, random(33), ad);
      for (let bit = 0; bit < sealed.length * 8; bit += 7) {
        const bad = sealed.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        assert.throws(() => key.openSync(nonce, bad, ad), failed);
      }
      assert.throws(() => key.openSync(nonce, sealed.subarray(0, 15), ad), failed);
      assert.throws(() => key.openSync(nonce, sealed, random(5)), failed);
      assert.throws(() => key.openSync(random(12), sealed, ad), failed);
      const other = await importAeadKey("AES-256-GCM", random(32));
      await assert.rejects(other.open(nonce, sealed, ad), failed);
      assert.throws(() => key.sealSync(new Uint8Array(8), random(1)), { code: "bad-nonce" });
      // The key owns its bytes: wiping the caller's copy changes nothing.
      raw.fill(0);
      assert.equal(key.openSync(nonce, sealed, ad).length, 33);
      assert.doesNotMatch(String(key), /[0-9a-f]{16}/, "no key bytes in its string form");
    }));
}

Deno.test("backend native without one installed is a typed error", async () => {
  installNativeAead(undefined);
  await assert.rejects(
    importAeadKey("AES-256-GCM", random(32), { backend: "native" }),
    (e) => e instanceof VaultError && e.code === "no-native-aead",
  );
});
