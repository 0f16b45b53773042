// The pure-JavaScript fallback for curves and ciphers, loaded lazily by backend.ts (the
// hashes are in _noble_hashes.ts, a smaller chunk the Noise handshake always needs). Each function mirrors a
// WebCrypto path and is held to the same vectors.
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { gcm } from "@noble/ciphers/aes.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { p256 } from "@noble/curves/nist.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concat, equalBytes } from "../_bytes.ts";

export { chacha20poly1305, gcm };

export const curves = {
  X25519: x25519,
  X448: x448,
} as const;

export function sign(
  algorithm: "Ed25519" | "ECDSA-P256",
  secret: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return algorithm === "Ed25519"
    ? ed25519.sign(data, secret)
    : p256.sign(data, secret, { prehash: true, lowS: false });
}

export function publicKeyOf(
  algorithm: "Ed25519" | "ECDSA-P256",
  secret: Uint8Array,
): Uint8Array {
  return algorithm === "Ed25519" ? ed25519.getPublicKey(secret) : p256.getPublicKey(secret, false);
}

export function randomSecret(algorithm: "Ed25519" | "ECDSA-P256"): Uint8Array {
  return algorithm === "Ed25519" ? ed25519.utils.randomSecretKey() : p256.utils.randomSecretKey();
}

export function verify(
  algorithm: "Ed25519" | "ECDSA-P256",
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return algorithm === "Ed25519"
      ? verifyEd25519(publicKey, data, signature)
      // High-S accepted, as Ockam's p256 crate and WebCrypto do.
      : p256.verify(signature, data, publicKey, { prehash: true, lowS: false });
  } catch {
    return false;
  }
}

function numberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

// RFC 8032 §5.1.7 with the verdicts WebCrypto gives (Deno's ring, and the BoringSSL/OpenSSL
// lineage): S < L; A decoded canonically (y < p, no x = 0 with the sign bit set) but
// small-order A allowed; and the cofactorless check encode([S]B - [k]A) == R, byte for
// byte. noble's own ed25519.verify is cofactored and, with zip215 off, rejects small-order
// A, so it disagreed with WebCrypto on small-order and mixed-order public keys. This is
// verification of public data, so variable time is fine.
function verifyEd25519(
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const { Point } = ed25519;
  const order = Point.Fn.ORDER;
  const r = signature.subarray(0, 32);
  const s = numberLE(signature.subarray(32));
  if (s >= order) return false;
  const a = Point.fromBytes(publicKey, false); // throws on a non-canonical or off-curve A
  const k = numberLE(sha512(concat(r, publicKey, data))) % order;
  const check = Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
  return equalBytes(check.toBytes(), r);
}
