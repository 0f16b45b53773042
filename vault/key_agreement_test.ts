import assert from "node:assert/strict";
import { toHex } from "../_bytes.ts";
import {
  type CurveBackendOptions,
  type DhAlgorithm,
  generateKeyAgreementKey,
  importKeyAgreementKey,
  VaultError,
} from "./mod.ts";
import { useNativeCurves } from "./deno.ts";

type CurveBackend = NonNullable<CurveBackendOptions["backend"]>;
// X25519 also runs on the native path (node:crypto; installed for this whole file).
useNativeCurves();
const PORTABLE: CurveBackend[] = ["webcrypto", "noble"];
const backendsOf = (algorithm: DhAlgorithm): CurveBackend[] =>
  algorithm === "X25519" ? [...PORTABLE, "native"] : PORTABLE;
const LENGTH: Record<DhAlgorithm, number> = { X25519: 32, X448: 56 };
const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;

for (const algorithm of ["X25519", "X448"] as const) {
  const length = LENGTH[algorithm];
  const BACKENDS = backendsOf(algorithm);
  const native = algorithm === "X25519";

  Deno.test(`${algorithm} keys on every pair of backends agree on the shared secret both ways`, async () => {
    const pairs: [CurveBackend, CurveBackend][] = [
      ["webcrypto", "noble"],
      ["noble", "webcrypto"],
      ["noble", "noble"],
    ];
    if (native) {
      pairs.push(["native", "webcrypto"], ["webcrypto", "native"], ["native", "noble"], [
        "native",
        "native",
      ]);
    }
    for (const [a, b] of pairs) {
      const left = await generateKeyAgreementKey(algorithm, { backend: a });
      const right = await generateKeyAgreementKey(algorithm, { backend: b });
      assert.equal(left.publicKey.length, length);
      const ab = await left.deriveSharedSecret(right.publicKey);
      const ba = await right.deriveSharedSecret(left.publicKey);
      assert.equal(ab.length, length);
      assert.equal(toHex(ab), toHex(ba), `${a} x ${b}`);
    }
  });

  Deno.test(`${algorithm} private key exported from one backend gives the same public key on another`, async () => {
    const pairs: [CurveBackend, CurveBackend][] = [["webcrypto", "noble"], ["noble", "webcrypto"]];
    if (native) pairs.push(["native", "webcrypto"], ["webcrypto", "native"]);
    for (const [from, to] of pairs) {
      const original = await generateKeyAgreementKey(algorithm, {
        backend: from,
        extractable: true,
      });
      const copy = await importKeyAgreementKey(algorithm, await original.exportPrivateKey(), {
        backend: to,
      });
      assert.equal(toHex(copy.publicKey), toHex(original.publicKey));
      const peer = await generateKeyAgreementKey(algorithm);
      assert.equal(
        toHex(await copy.deriveSharedSecret(peer.publicKey)),
        toHex(await original.deriveSharedSecret(peer.publicKey)),
      );
    }
  });

  Deno.test(`${algorithm} rejects a wrong-length private or peer public key with VaultError bad-key-length`, async () => {
    for (const backend of BACKENDS) {
      for (const bad of [0, length - 1, length + 1, 64]) {
        await assert.rejects(
          importKeyAgreementKey(algorithm, new Uint8Array(bad).fill(9), { backend }),
          isCode("bad-key-length"),
        );
      }
      const key = await generateKeyAgreementKey(algorithm, { backend });
      for (const bad of [0, length - 1, length + 1]) {
        await assert.rejects(
          key.deriveSharedSecret(new Uint8Array(bad).fill(9)),
          isCode("bad-key-length"),
        );
      }
    }
  });

  Deno.test(`${algorithm} rejects a low-order peer key (all-zero secret) with VaultError bad-public-key on every backend`, async () => {
    // u = 0 and u = 1 are low-order points; the shared secret would be all zeros.
    for (const backend of BACKENDS) {
      const key = await generateKeyAgreementKey(algorithm, { backend });
      for (const u of [0, 1]) {
        const peer = new Uint8Array(length);
        peer[0] = u;
        await assert.rejects(
          key.deriveSharedSecret(peer),
          isCode("bad-public-key"),
          `${backend} u=${u}`,
        );
      }
    }
  });

  Deno.test(`${algorithm} keys are non-extractable by default on every backend`, async () => {
    for (const backend of BACKENDS) {
      const generated = await generateKeyAgreementKey(algorithm, { backend });
      await assert.rejects(generated.exportPrivateKey(), isCode("not-extractable"));
      const imported = await importKeyAgreementKey(algorithm, new Uint8Array(length).fill(7), {
        backend,
      });
      await assert.rejects(imported.exportPrivateKey(), isCode("not-extractable"));
    }
  });
}

Deno.test("key agreement rejects unknown algorithm strings with VaultError unknown-algorithm", async () => {
  for (const name of ["P-256", "x25519", "ECDH"]) {
    await assert.rejects(generateKeyAgreementKey(name as DhAlgorithm), isCode("unknown-algorithm"));
    await assert.rejects(
      importKeyAgreementKey(name as DhAlgorithm, new Uint8Array(32)),
      isCode("unknown-algorithm"),
    );
  }
});
