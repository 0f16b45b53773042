// Known-answer tests: every vector in testdata/ (sources in testdata/README.md), run on the
// WebCrypto path and on the forced noble path wherever both exist, and the curves also on
// the native path.
import assert from "node:assert/strict";
import { concat, fromHex, toHex } from "../_bytes.ts";
import {
  type AeadAlgorithm,
  type Backend,
  digest,
  type HashName,
  hkdf,
  hmac,
  importAeadKey,
  importKeyAgreementKey,
  importSigningKey,
  verifySignature,
} from "./mod.ts";
import { useNativeCurves } from "./deno.ts";
import x25519 from "./testdata/x25519.json" with { type: "json" };
import x448 from "./testdata/x448.json" with { type: "json" };
import ed25519 from "./testdata/ed25519.json" with { type: "json" };
import hkdfSha256 from "./testdata/hkdf_sha256.json" with { type: "json" };
import aesGcm from "./testdata/aes_256_gcm.json" with { type: "json" };
import chacha from "./testdata/chacha20_poly1305.json" with { type: "json" };
import p256 from "./testdata/p256_sha256.json" with { type: "json" };
import hashes from "./testdata/hashes.json" with { type: "json" };
import hmacs from "./testdata/hmac.json" with { type: "json" };

const BACKENDS: Backend[] = ["webcrypto", "noble"];
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

// X25519, X448 and Ed25519 on every curve backend: WebCrypto, noble, and the native one a
// runtime adapter installs (node:crypto here; installed for this file, so keys made without a
// backend option use it too).
useNativeCurves();
for (const backend of [...BACKENDS, "native"] as const) {
  const opts = { backend };

  const curves = [["X25519", x25519], ["X448", x448]] as const;
  // No adapter provides X448 natively.
  for (const [curve, file] of backend === "native" ? curves.slice(0, 1) : curves) {
    Deno.test(`${curve} matches RFC 7748 §5.2 scalar-multiplication vectors (${backend})`, async () => {
      for (const v of file.scalarMult) {
        const key = await importKeyAgreementKey(curve, fromHex(v.scalar), opts);
        assert.equal(toHex(await key.deriveSharedSecret(fromHex(v.u))), v.output, v.name);
      }
    });

    Deno.test(`${curve} matches the RFC 7748 Diffie-Hellman example keys and secret (${backend})`, async () => {
      const d = file.diffieHellman;
      const alice = await importKeyAgreementKey(curve, fromHex(d.alicePrivate), opts);
      const bob = await importKeyAgreementKey(curve, fromHex(d.bobPrivate), opts);
      assert.equal(toHex(alice.publicKey), d.alicePublic);
      assert.equal(toHex(bob.publicKey), d.bobPublic);
      assert.equal(toHex(await alice.deriveSharedSecret(fromHex(d.bobPublic))), d.shared);
      assert.equal(toHex(await bob.deriveSharedSecret(fromHex(d.alicePublic))), d.shared);
    });
  }

  Deno.test(`Ed25519 matches RFC 8032 §7.1 TEST 1, 2, 3 and SHA(abc) (${backend})`, async () => {
    for (const v of ed25519.vectors) {
      const key = await importSigningKey("Ed25519", fromHex(v.secretKey), opts);
      assert.equal(toHex(key.publicKey), v.publicKey, v.name);
      const message = fromHex(v.message);
      // Ed25519 is deterministic: the signature must match byte for byte.
      assert.equal(toHex(await key.sign(message)), v.signature, v.name);
      assert.equal(
        await verifySignature("Ed25519", fromHex(v.publicKey), message, fromHex(v.signature), opts),
        true,
        v.name,
      );
    }
  });
}

for (const backend of BACKENDS) {
  const opts = { backend };

  Deno.test(`ECDSA P-256 verifies the RFC 6979 A.2.5 SHA-256 signatures (${backend})`, async () => {
    const key = await importSigningKey("ECDSA-P256", fromHex(p256.privateKey), opts);
    assert.equal(toHex(key.publicKey), p256.publicKey);
    for (const v of p256.vectors) {
      const signature = fromHex(v.r + v.s);
      assert.equal(
        await verifySignature(
          "ECDSA-P256",
          fromHex(p256.publicKey),
          utf8(v.message),
          signature,
          opts,
        ),
        true,
        v.name,
      );
      assert.equal(
        await verifySignature(
          "ECDSA-P256",
          fromHex(p256.publicKey),
          utf8(v.message + "!"),
          signature,
          opts,
        ),
        false,
        v.name,
      );
    }
  });

  if (backend === "noble") {
    Deno.test("ECDSA P-256 signing reproduces RFC 6979 A.2.5 k, r, s byte for byte (noble)", async () => {
      // WebCrypto signs with a random k, so only the deterministic noble path can match.
      const key = await importSigningKey("ECDSA-P256", fromHex(p256.privateKey), opts);
      for (const v of p256.vectors) {
        assert.equal(toHex(await key.sign(utf8(v.message))), v.r + v.s, v.name);
      }
    });
  }

  Deno.test(`HKDF-SHA256 matches RFC 5869 test cases 1-3 (${backend})`, async () => {
    for (const v of hkdfSha256.vectors) {
      const okm = await hkdf("SHA256", {
        salt: fromHex(v.salt),
        ikm: fromHex(v.ikm),
        info: fromHex(v.info),
        length: v.length,
        backend,
      });
      assert.equal(toHex(okm), v.okm, v.name);
    }
  });

  Deno.test(`SHA-256 and SHA-512 of "abc" match FIPS 180-2 (${backend})`, async () => {
    for (const v of hashes.vectors.filter((v) => v.hash.startsWith("SHA"))) {
      assert.equal(toHex(await digest(v.hash as HashName, fromHex(v.message), opts)), v.digest);
    }
  });

  Deno.test(`HMAC-SHA256 and HMAC-SHA512 match RFC 4231 test cases 1-2 (${backend})`, async () => {
    for (const v of hmacs.vectors) {
      for (const name of ["SHA256", "SHA512"] as const) {
        const tag = await hmac(name, fromHex(v.key), fromHex(v.data), opts);
        assert.equal(toHex(tag), v[name], `${v.name} ${name}`);
      }
    }
  });

  Deno.test(`AES-256-GCM matches GCM spec test cases 13-16 (${backend})`, async () => {
    await checkAead("AES-256-GCM", aesGcm.vectors, backend);
  });
}

// The spec vectors use `iv`; RFC 8439 uses `nonce`.
interface AeadVector {
  name: string;
  key: string;
  iv?: string;
  nonce?: string;
  plaintext: string;
  aad: string;
  ciphertext: string;
  tag: string;
}

async function checkAead(
  algorithm: AeadAlgorithm,
  vectors: AeadVector[],
  backend?: Backend,
): Promise<void> {
  for (const v of vectors) {
    const key = await importAeadKey(algorithm, fromHex(v.key), backend ? { backend } : {});
    const nonce = fromHex(v.iv ?? v.nonce ?? "");
    const sealed = await key.seal(nonce, fromHex(v.plaintext), fromHex(v.aad));
    assert.equal(toHex(sealed), v.ciphertext + v.tag, v.name);
    const opened = await key.open(
      nonce,
      concat(fromHex(v.ciphertext), fromHex(v.tag)),
      fromHex(v.aad),
    );
    assert.equal(toHex(opened), v.plaintext, v.name);
  }
}

Deno.test("ChaCha20-Poly1305 matches RFC 8439 §2.8.2 (noble only)", async () => {
  await checkAead("ChaCha20-Poly1305", chacha.vectors);
});

Deno.test('BLAKE2b-512 and BLAKE2s-256 of "abc" match RFC 7693 Appendices A and B (noble only)', async () => {
  for (const v of hashes.vectors.filter((v) => v.hash.startsWith("BLAKE2"))) {
    assert.equal(toHex(await digest(v.hash as HashName, fromHex(v.message))), v.digest, v.name);
  }
});

Deno.test("every stored vector file was exercised", () => {
  // Guards against an emptied or mis-keyed JSON file silently running zero cases.
  assert.equal(x25519.scalarMult.length, 2);
  assert.equal(x448.scalarMult.length, 2);
  assert.equal(ed25519.vectors.length, 4);
  assert.equal(hkdfSha256.vectors.length, 3);
  assert.equal(aesGcm.vectors.length, 4);
  assert.equal(chacha.vectors.length, 1);
  assert.equal(p256.vectors.length, 2);
  assert.equal(hashes.vectors.length, 4);
  assert.equal(hmacs.vectors.length, 2);
});
