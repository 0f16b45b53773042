// The pure-JavaScript fallback, loaded lazily by backend.ts. Each function mirrors a
// WebCrypto path and is held to the same vectors.
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { gcm } from "@noble/ciphers/aes.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { p256 } from "@noble/curves/nist.js";
import { blake2b, blake2s } from "@noble/hashes/blake2.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { hkdf } from "@noble/hashes/hkdf.js";

export { blake2b, blake2s, chacha20poly1305, gcm, hkdf, hmac, sha256, sha512 };

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
      // RFC 8032 strict decoding (zip215 off), as WebCrypto verifies.
      ? ed25519.verify(signature, data, publicKey, { zip215: false })
      // High-S accepted, as Ockam's p256 crate and WebCrypto do.
      : p256.verify(signature, data, publicKey, { prehash: true, lowS: false });
  } catch {
    return false;
  }
}
