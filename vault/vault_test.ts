import assert from "node:assert/strict";
import { toHex } from "../_bytes.ts";
import {
  type Backend,
  type ExportableSigningKey,
  generateKeyAgreementKey,
  generateSigningKey,
  importAeadKey,
  importKeyAgreementKey,
  importSigningKey,
  MemoryKeyStore,
  Vault,
  VaultError,
  verifySignature,
} from "./mod.ts";

const BACKENDS: Backend[] = ["webcrypto", "noble"];
const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;
const data = new TextEncoder().encode("payload");

/** Every way the bytes could show up in text: hex, base64, base64url and decimal lists. */
function renderings(secret: Uint8Array): string[] {
  const b64 = btoa(String.fromCharCode(...secret));
  return [
    toHex(secret),
    toHex(secret).toUpperCase(),
    b64,
    b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    Array.from(secret).join(","),
    Array.from(secret).join(", "),
  ];
}

function assertNoLeak(text: string, secret: Uint8Array, what: string): void {
  for (const form of renderings(secret)) {
    assert.ok(!text.includes(form), `${what} contains the key bytes (${form.slice(0, 12)}...)`);
  }
}

function views(value: unknown): [string, string][] {
  return [
    ["String()", String(value)],
    ["JSON.stringify", JSON.stringify(value) ?? ""],
    ["Deno.inspect", Deno.inspect(value, { depth: 10, showHidden: true, iterableLimit: 1000 })],
  ];
}

Deno.test("keys print and serialize without their private bytes, on both backends", async () => {
  for (const backend of BACKENDS) {
    for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
      const original = await generateSigningKey(algorithm, { backend, extractable: true });
      const secret = await original.exportPrivateKey();
      for (const key of [original, await importSigningKey(algorithm, secret, { backend })]) {
        for (const [how, text] of views(key)) {
          assertNoLeak(text, secret, `${backend} ${algorithm} ${how}`);
        }
      }
    }
    for (const algorithm of ["X25519", "X448"] as const) {
      const original = await generateKeyAgreementKey(algorithm, { backend, extractable: true });
      const secret = await original.exportPrivateKey();
      for (const key of [original, await importKeyAgreementKey(algorithm, secret, { backend })]) {
        for (const [how, text] of views(key)) {
          assertNoLeak(text, secret, `${backend} ${algorithm} ${how}`);
        }
      }
    }
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const aead = await importAeadKey("AES-256-GCM", raw, { backend });
    for (const [how, text] of views(aead)) assertNoLeak(text, raw, `${backend} AES-256-GCM ${how}`);
  }
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const chacha = await importAeadKey("ChaCha20-Poly1305", raw);
  for (const [how, text] of views(chacha)) assertNoLeak(text, raw, `ChaCha20-Poly1305 ${how}`);
});

Deno.test("error messages never contain key bytes", async () => {
  const errors: unknown[] = [];
  const collect = (p: Promise<unknown>) =>
    p.then(() => assert.fail("expected a rejection"), (e) => errors.push(e));
  for (const backend of BACKENDS) {
    const dh = await generateKeyAgreementKey("X25519", { backend, extractable: true });
    const secret = await dh.exportPrivateKey();
    await collect(dh.deriveSharedSecret(new Uint8Array(32)));
    await collect(dh.deriveSharedSecret(new Uint8Array(31)));
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const aead = await importAeadKey("AES-256-GCM", raw, { backend });
    await collect(aead.open(new Uint8Array(12), new Uint8Array(40)));
    await collect(importAeadKey("AES-256-GCM", raw.subarray(0, 31), { backend }));
    await collect(importSigningKey("Ed25519", secret.subarray(0, 31), { backend }));
    await collect(importSigningKey("ECDSA-P256", new Uint8Array(32).fill(0xff), { backend }));
    for (const error of errors) {
      assert.ok(error instanceof VaultError);
      const text = `${String(error)} ${error.stack ?? ""} ${String(error.cause ?? "")} ${
        Deno.inspect(error, { depth: 10 })
      }`;
      assertNoLeak(text, secret, `${backend} ${error.code}`);
      assertNoLeak(text, raw, `${backend} ${error.code}`);
    }
  }
});

Deno.test("Vault keys that are not persisted are non-extractable and never reach the store", async () => {
  const store = new MemoryKeyStore();
  const vault = new Vault({ store });
  const { id, key } = await vault.createSigningKey("Ed25519");
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await store.get(id), undefined);
  await assert.rejects((key as ExportableSigningKey).exportPrivateKey(), isCode("not-extractable"));
  const dh = await vault.createKeyAgreementKey("X25519");
  assert.equal(await store.get(dh.id), undefined);
  // A persisted key is written to the store once; the copy the vault keeps is non-extractable.
  const persisted = await vault.createSigningKey("Ed25519", { persist: true });
  assert.ok(await store.get(persisted.id));
  await assert.rejects(
    (persisted.key as ExportableSigningKey).exportPrivateKey(),
    isCode("not-extractable"),
  );
});

Deno.test("Vault rejects an unknown key id with VaultError unknown-key", async () => {
  const vault = new Vault();
  await assert.rejects(vault.signingKey("0".repeat(32)), isCode("unknown-key"));
  await assert.rejects(vault.keyAgreementKey("nope"), isCode("unknown-key"));
  const { id } = await vault.createSigningKey("Ed25519");
  assert.equal(await vault.deleteKey(id), true);
  await assert.rejects(vault.signingKey(id), isCode("unknown-key"));
  assert.equal(await vault.deleteKey(id), false);
});

Deno.test("Vault rejects a key of the wrong kind with VaultError wrong-key-kind", async () => {
  for (const backend of BACKENDS) {
    const vault = new Vault({ backend });
    const signing = await vault.createSigningKey("ECDSA-P256");
    const agreement = await vault.createKeyAgreementKey("X448");
    await assert.rejects(vault.keyAgreementKey(signing.id), isCode("wrong-key-kind"));
    await assert.rejects(vault.signingKey(agreement.id), isCode("wrong-key-kind"));
  }
});

Deno.test("Vault persisted keys load back in a new Vault over the same store, on both backends", async () => {
  for (const backend of BACKENDS) {
    const store = new MemoryKeyStore();
    const first = new Vault({ store, backend });
    for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
      const { id, key } = await first.createSigningKey(algorithm, { persist: true });
      assert.equal((await store.get(id))?.algorithm, algorithm);
      const again = await new Vault({ store }).signingKey(id);
      assert.equal(toHex(again.publicKey), toHex(key.publicKey));
      assert.equal(
        await verifySignature(algorithm, key.publicKey, data, await again.sign(data)),
        true,
      );
    }
    for (const algorithm of ["X25519", "X448"] as const) {
      const { id, key } = await first.createKeyAgreementKey(algorithm, { persist: true });
      const again = await new Vault({ store }).keyAgreementKey(id);
      const peer = await generateKeyAgreementKey(algorithm);
      assert.equal(
        toHex(await again.deriveSharedSecret(peer.publicKey)),
        toHex(await key.deriveSharedSecret(peer.publicKey)),
      );
    }
  }
});

Deno.test("MemoryKeyStore hands out copies: mutating them does not change the stored key", async () => {
  const store = new MemoryKeyStore();
  const privateKey = new Uint8Array(32).fill(5);
  await store.set("k", { algorithm: "Ed25519", privateKey });
  privateKey.fill(0);
  const first = await store.get("k");
  first!.privateKey.fill(1);
  assert.deepEqual((await store.get("k"))?.privateKey, new Uint8Array(32).fill(5));
  assert.equal(await store.delete("k"), true);
  assert.equal(await store.delete("k"), false);
});
