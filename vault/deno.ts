/**
 * The vault's Deno adapter: a file key store for keys that must survive restarts, a
 * synchronous AES-256-GCM ({@linkcode useNativeAead}: OpenSSL through FFI where Deno may load
 * it, else `node:crypto`) and synchronous X25519 and Ed25519 ({@linkcode useNativeCurves}:
 * `node:crypto`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileKeyStore } from "@sealroute/sealroute/vault/deno";
 * const store = new FileKeyStore(await Deno.makeTempDir());
 * assert(await store.get("missing") === undefined);
 * ```
 *
 * @module
 */
export * from "./file_key_store.ts";
export { openSslAead } from "./_openssl_aead.ts";
export { nodeCryptoAead } from "./_node_aead.ts";
export { nodeCryptoCurves } from "./_node_curves.ts";
import { nodeCryptoAead } from "./_node_aead.ts";
import { nodeCryptoCurves } from "./_node_curves.ts";
import { installNativeCurves } from "./native_curves.ts";
import { openSslAead } from "./_openssl_aead.ts";
import { installNativeAead } from "./native_aead.ts";

/**
 * Installs the fastest synchronous AES-256-GCM this process may use for every key imported
 * from now on: OpenSSL's through FFI (with `--allow-ffi` and a system libcrypto 3), else
 * `node:crypto` (WebCrypto for messages past 16 KiB). Returns its name (`aeadBackend()` says
 * the same later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aeadBackend, importAeadKey, installNativeAead } from "@sealroute/sealroute/vault";
 * import { useNativeAead } from "@sealroute/sealroute/vault/deno";
 * const name = useNativeAead();
 * assert.equal(aeadBackend(), name);
 * const key = await importAeadKey("AES-256-GCM", new Uint8Array(32));
 * const sealed = await key.seal(new Uint8Array(12), new Uint8Array([1, 2]));
 * assert.deepEqual([...await key.open(new Uint8Array(12), sealed)], [1, 2]);
 * installNativeAead(undefined); // back to WebCrypto
 * ```
 */
export function useNativeAead(options: { prefer?: "openssl-ffi" | "node:crypto" } = {}): string {
  const aead = options.prefer === "node:crypto"
    ? nodeCryptoAead()
    : openSslAead() ?? nodeCryptoAead();
  installNativeAead(aead);
  return aead.name;
}

/**
 * Installs `node:crypto`'s X25519 and Ed25519 for every such key generated or imported from
 * now on, and for Ed25519 verification: synchronous, with private keys in `KeyObject`s
 * outside the JavaScript heap (SECURITY.md says what this trades against a non-extractable
 * `CryptoKey`). Returns its name (`curvesBackend()` says the same later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   curvesBackend,
 *   generateKeyAgreementKey,
 *   installNativeCurves,
 *   isSyncKeyAgreementKey,
 * } from "@sealroute/sealroute/vault";
 * import { useNativeCurves } from "@sealroute/sealroute/vault/deno";
 * assert.equal(useNativeCurves(), curvesBackend());
 * const a = await generateKeyAgreementKey("X25519");
 * const b = await generateKeyAgreementKey("X25519");
 * assert(isSyncKeyAgreementKey(a));
 * assert.deepEqual(a.deriveSharedSecretSync(b.publicKey), await b.deriveSharedSecret(a.publicKey));
 * installNativeCurves(undefined); // back to WebCrypto
 * ```
 */
export function useNativeCurves(): string {
  const curves = nodeCryptoCurves();
  installNativeCurves(curves);
  return curves.name;
}
