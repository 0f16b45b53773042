/**
 * Synchronous AES-256-GCM, installed by a runtime adapter: OpenSSL through FFI or
 * `node:crypto` on Deno (`useNativeAead` in `@sealroute/sealroute/vault/deno`). Once one is
 * installed, {@linkcode importAeadKey} makes AES-256-GCM keys that seal and open in the
 * calling thread ({@linkcode SyncAeadKey}), without WebCrypto's hop to a thread pool per call;
 * the portable core never picks one itself, so browsers and workerd keep WebCrypto.
 * {@linkcode aeadBackend} says which is active.
 *
 * @module
 */

/** One key's synchronous AES-256-GCM: what an adapter implements. */
export interface NativeAeadContext {
  /** `AES-256-GCM(plaintext)` with the 16-byte tag appended. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** The plaintext, or `undefined` when authentication fails. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined;
}

/** A synchronous AES-256-GCM implementation an adapter installs. */
export interface NativeAead {
  /** Its name, e.g. `openssl-ffi` or `node:crypto`. */
  readonly name: string;
  /**
   * Messages up to this many bytes are sealed and opened synchronously; larger ones go to
   * WebCrypto (pipelined), where that is faster (`node:crypto` in Deno). Default: all.
   */
  readonly maxSyncBytes?: number;
  /** A context for the 32 key bytes `raw` (the caller keeps no copy). */
  key(raw: Uint8Array): NativeAeadContext;
}

let installed: NativeAead | undefined;

/**
 * Installs `aead` for every AES-256-GCM key imported from now on (`undefined`: back to
 * WebCrypto). Runtime adapters call it; the portable core does not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aeadBackend, installNativeAead } from "@sealroute/sealroute/vault";
 * installNativeAead(undefined);
 * assert.equal(aeadBackend(), "webcrypto");
 * ```
 */
export function installNativeAead(aead: NativeAead | undefined): void {
  installed = aead;
}

/** The installed synchronous AES-256-GCM, if any. */
export function nativeAead(): NativeAead | undefined {
  return installed;
}

/**
 * Which AES-256-GCM new keys use: the installed native one's name, else `webcrypto`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aeadBackend } from "@sealroute/sealroute/vault";
 * assert.equal(typeof aeadBackend(), "string");
 * ```
 */
export function aeadBackend(): string {
  return installed?.name ?? "webcrypto";
}
