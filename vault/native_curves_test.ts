// The native curve hook (installNativeCurves / curvesBackend) and node:crypto's X25519 and
// Ed25519 behind it: which keys it makes, their synchronous methods, what they refuse, and
// what they keep out of reach. The known-answer vectors run on it in vectors_test.ts, the
// cross-backend checks in key_agreement_test.ts and signing_test.ts.
import assert from "node:assert/strict";
import fc from "fast-check";
import { toHex } from "../_bytes.ts";
import {
  curvesBackend,
  generateKeyAgreementKey,
  generateSigningKey,
  importKeyAgreementKey,
  importSigningKey,
  installNativeCurves,
  isSyncKeyAgreementKey,
  isSyncSigningKey,
  MemoryKeyStore,
  Vault,
  VaultError,
  verifySignature,
} from "./mod.ts";
import { nodeCryptoCurves, useNativeCurves } from "./deno.ts";

const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

async function withNative(body: () => Promise<void>): Promise<void> {
  useNativeCurves();
  try {
    await body();
  } finally {
    installNativeCurves(undefined);
  }
}

Deno.test("useNativeCurves installs node:crypto; new X25519 and Ed25519 keys are synchronous", () =>
  withNative(async () => {
    assert.equal(curvesBackend(), "node:crypto");
    const dh = await generateKeyAgreementKey("X25519");
    const signer = await generateSigningKey("Ed25519");
    assert(isSyncKeyAgreementKey(dh) && isSyncSigningKey(signer));
    assert.match(String(dh), /native/);
    // X448 and P-256 have no native path: they stay portable.
    assert(!isSyncKeyAgreementKey(await generateKeyAgreementKey("X448")));
    assert(!isSyncSigningKey(await generateSigningKey("ECDSA-P256")));
    // A forced portable backend is honoured.
    assert(
      !isSyncKeyAgreementKey(await generateKeyAgreementKey("X25519", { backend: "webcrypto" })),
    );
    const peer = await generateKeyAgreementKey("X25519", { backend: "webcrypto" });
    assert.equal(
      toHex(dh.deriveSharedSecretSync(peer.publicKey)),
      toHex(await peer.deriveSharedSecret(dh.publicKey)),
    );
    const data = random(100);
    const signature = signer.signSync(data);
    assert.deepEqual(await signer.sign(data), signature, "Ed25519 is deterministic");
    assert(
      await verifySignature("Ed25519", signer.publicKey, data, signature, { backend: "webcrypto" }),
    );
  }));

Deno.test("uninstalled, keys are portable again and backend native is a typed error", async () => {
  installNativeCurves(undefined);
  assert.equal(curvesBackend(), "webcrypto");
  assert(!isSyncKeyAgreementKey(await generateKeyAgreementKey("X25519")));
  assert(!isSyncSigningKey(await generateSigningKey("Ed25519")));
  const noNative = isCode("no-native-curves");
  await assert.rejects(generateKeyAgreementKey("X25519", { backend: "native" }), noNative);
  await assert.rejects(importSigningKey("Ed25519", random(32), { backend: "native" }), noNative);
  await assert.rejects(
    verifySignature("Ed25519", random(32), random(1), random(64), { backend: "native" }),
    noNative,
  );
  await withNative(async () => {
    await assert.rejects(generateKeyAgreementKey("X448", { backend: "native" }), noNative);
    await assert.rejects(generateSigningKey("ECDSA-P256", { backend: "native" }), noNative);
  });
});

Deno.test("native keys refuse what the portable ones refuse, synchronously and as promises", () =>
  withNative(async () => {
    const key = await generateKeyAgreementKey("X25519");
    assert(isSyncKeyAgreementKey(key));
    for (const u of [0, 1]) {
      const low = new Uint8Array(32);
      low[0] = u;
      assert.throws(() => key.deriveSharedSecretSync(low), isCode("bad-public-key"));
      await assert.rejects(key.deriveSharedSecret(low), isCode("bad-public-key"));
    }
    assert.throws(() => key.deriveSharedSecretSync(random(31)), isCode("bad-key-length"));
    await assert.rejects(key.deriveSharedSecret(random(33)), isCode("bad-key-length"));
    await assert.rejects(key.exportPrivateKey(), isCode("not-extractable"));
    const signer = await importSigningKey("Ed25519", random(32));
    await assert.rejects(signer.exportPrivateKey(), isCode("not-extractable"));
    assert.equal(
      await verifySignature("Ed25519", random(32), random(5), random(64)),
      false,
      "a random public key and signature",
    );
  }));

Deno.test("extractable native keys export the bytes they were imported from or generated with", () =>
  withNative(async () => {
    for (const algorithm of ["X25519", "Ed25519"] as const) {
      const raw = random(32);
      const key = algorithm === "X25519"
        ? await importKeyAgreementKey(algorithm, raw, { extractable: true })
        : await importSigningKey(algorithm, raw, { extractable: true });
      assert.equal(toHex(await key.exportPrivateKey()), toHex(raw), algorithm);
      const fresh = algorithm === "X25519"
        ? await generateKeyAgreementKey(algorithm, { extractable: true })
        : await generateSigningKey(algorithm, { extractable: true });
      const copy = algorithm === "X25519"
        ? await importKeyAgreementKey(algorithm, await fresh.exportPrivateKey(), {
          backend: "webcrypto",
        })
        : await importSigningKey(algorithm, await fresh.exportPrivateKey(), {
          backend: "webcrypto",
        });
      assert.equal(toHex(copy.publicKey), toHex(fresh.publicKey), `${algorithm} round trip`);
    }
  }));

Deno.test("a native key owns its secret: wiping the caller's bytes changes nothing", () =>
  withNative(async () => {
    const raw = random(32);
    const signer = await importSigningKey("Ed25519", raw);
    const dh = await importKeyAgreementKey("X25519", raw);
    const reference = await importSigningKey("Ed25519", raw, { backend: "webcrypto" });
    const peer = await generateKeyAgreementKey("X25519", { backend: "webcrypto" });
    const expected = toHex(await peer.deriveSharedSecret(dh.publicKey));
    raw.fill(0);
    const data = random(40);
    assert.equal(toHex(await signer.sign(data)), toHex(await reference.sign(data)));
    assert.equal(toHex(await dh.deriveSharedSecret(peer.publicKey)), expected);
    for (
      const text of [
        String(signer),
        String(dh),
        String(nodeCryptoCurves().importX25519(random(32))),
      ]
    ) {
      assert.doesNotMatch(text, /[0-9a-f]{16}/, "no key bytes in a string form");
    }
  }));

Deno.test("a vault on native curves persists keys that load back and still agree and sign", () =>
  withNative(async () => {
    const store = new MemoryKeyStore();
    const vault = new Vault({ store });
    const signing = await vault.createSigningKey("Ed25519", { persist: true });
    const agreement = await vault.createKeyAgreementKey("X25519", { persist: true });
    // A second vault on the same store loads both keys back from their stored bytes.
    const loaded = new Vault({ store });
    const again = await loaded.signingKey(signing.id);
    const data = random(8);
    assert(isSyncSigningKey(again));
    assert(
      await verifySignature("Ed25519", signing.key.publicKey, data, await again.sign(data), {
        backend: "noble",
      }),
    );
    const peer = await generateKeyAgreementKey("X25519", { backend: "noble" });
    assert.equal(
      toHex(await (await loaded.keyAgreementKey(agreement.id)).deriveSharedSecret(peer.publicKey)),
      toHex(await peer.deriveSharedSecret(agreement.key.publicKey)),
    );
  }));

Deno.test("native and WebCrypto X25519 agree on random private keys (property)", () =>
  withNative(async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        async (a, b) => {
          const nativeA = await importKeyAgreementKey("X25519", a);
          const webA = await importKeyAgreementKey("X25519", a, { backend: "webcrypto" });
          assert.equal(toHex(nativeA.publicKey), toHex(webA.publicKey));
          const webB = await importKeyAgreementKey("X25519", b, { backend: "webcrypto" });
          assert.equal(
            toHex(await nativeA.deriveSharedSecret(webB.publicKey)),
            toHex(await webB.deriveSharedSecret(webA.publicKey)),
          );
        },
      ),
      { numRuns: 40 },
    );
  }));
