/**
 * The vault: the one place that holds keys and does cryptography.
 *
 * Consumers depend on small interfaces, so another backend (a KMS, a secure element, a
 * TPM) can stand behind them: {@linkcode SigningKey} for signing,
 * {@linkcode verifySignature} for verification, and {@linkcode KeyAgreementKey},
 * {@linkcode AeadKey} and {@linkcode hkdf} for secure channels. The implementation here
 * is WebCrypto first, with `@noble/*` loaded lazily where a runtime's WebCrypto lacks an
 * algorithm (and always for ChaCha20-Poly1305 and BLAKE2). Generated secret keys are
 * non-extractable `CryptoKey`s unless the caller asks to persist them.
 *
 * Algorithms: Ed25519 and ECDSA P-256 (raw 64-byte `r || s`), X25519 and X448,
 * AES-256-GCM and ChaCha20-Poly1305, SHA-256, SHA-512, BLAKE2s and BLAKE2b, with HMAC and
 * HKDF over each hash.
 *
 * @example Sign, verify, seal, open
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSigningKey, importAeadKey, verifySignature } from "@sealroute/sealroute/vault";
 *
 * const identityKey = await generateSigningKey("Ed25519");
 * const message = new TextEncoder().encode("telemetry");
 * const signature = await identityKey.sign(message);
 * assert(await verifySignature("Ed25519", identityKey.publicKey, message, signature));
 *
 * const key = await importAeadKey("AES-256-GCM", crypto.getRandomValues(new Uint8Array(32)));
 * const nonce = new Uint8Array(12);
 * const sealed = await key.seal(nonce, message);
 * assert((await key.open(nonce, sealed)).length === message.length);
 * ```
 *
 * @module
 */
export * from "./aead.ts";
export * from "./native_aead.ts";
export {
  type CurveBackendOptions,
  curvesBackend,
  installNativeCurves,
  isSyncKeyAgreementKey,
  isSyncSigningKey,
  type NativeCurves,
  type NativeEd25519Key,
  type NativeX25519Key,
  type SyncKeyAgreementKey,
  type SyncSigningKey,
} from "./native_curves.ts";
export { type Backend, type BackendOptions, isNobleLoaded, webCryptoSupports } from "./backend.ts";
export * from "./hash.ts";
export * from "./key_agreement.ts";
export * from "./key_store.ts";
export * from "./signing.ts";
export * from "./sync_hash.ts";
export * from "./vault.ts";
export { SealrouteError, VaultError } from "../errors.ts";
