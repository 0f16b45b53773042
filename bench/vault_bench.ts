// Vault primitives on each backend. Run: npx -y deno@2.9.6 bench -A bench/vault_bench.ts
import {
  type AeadAlgorithm,
  type Backend,
  generateKeyAgreementKey,
  generateSigningKey,
  importAeadKey,
  verifySignature,
} from "../vault/mod.ts";

const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const nonce = random(12);
const ad = random(16);

const AEADS: [AeadAlgorithm, Backend | undefined][] = [
  ["AES-256-GCM", "webcrypto"],
  ["ChaCha20-Poly1305", undefined],
];
for (const [size, label] of [[64, "64 B"], [1024, "1 KiB"], [65536, "64 KiB"]] as const) {
  const plaintext = random(size);
  for (const [algorithm, backend] of AEADS) {
    const key = await importAeadKey(algorithm, random(32), backend ? { backend } : {});
    Deno.bench({
      name: `${algorithm} seal+open ${label}`,
      group: `aead ${label}`,
      baseline: algorithm === "AES-256-GCM",
      async fn() {
        await key.open(nonce, await key.seal(nonce, plaintext, ad), ad);
      },
    });
  }
}

const BACKENDS: Backend[] = ["webcrypto", "noble"];
const message = random(256);

for (const backend of BACKENDS) {
  const mine = await generateKeyAgreementKey("X25519", { backend });
  const peer = (await generateKeyAgreementKey("X25519")).publicKey;
  Deno.bench({
    name: `X25519 derive (${backend})`,
    group: "x25519",
    baseline: backend === "webcrypto",
    async fn() {
      await mine.deriveSharedSecret(peer);
    },
  });
}

for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
  for (const backend of BACKENDS) {
    const key = await generateSigningKey(algorithm, { backend });
    const signature = await key.sign(message);
    Deno.bench({
      name: `${algorithm} sign (${backend})`,
      group: `${algorithm} sign`,
      baseline: backend === "webcrypto",
      async fn() {
        await key.sign(message);
      },
    });
    Deno.bench({
      name: `${algorithm} verify (${backend})`,
      group: `${algorithm} verify`,
      baseline: backend === "webcrypto",
      async fn() {
        await verifySignature(algorithm, key.publicKey, message, signature, { backend });
      },
    });
  }
}
