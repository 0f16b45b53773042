/**
 * Synchronous X25519 and Ed25519, installed by a runtime adapter (`node:crypto` on Deno and
 * Node: `useNativeCurves` in `@sealroute/sealroute/vault/deno`). Once one is installed,
 * X25519 and Ed25519 keys generated or imported from then on agree, sign and verify in the
 * calling thread, without WebCrypto's promise and thread-pool hop per call; the portable
 * core never picks one itself, so browsers and workerd keep WebCrypto. Such keys also have
 * synchronous methods ({@linkcode SyncKeyAgreementKey}, {@linkcode SyncSigningKey}).
 * {@linkcode curvesBackend} says which is active.
 *
 * @module
 */
import { VaultError } from "../errors.ts";
import type { Backend } from "./backend.ts";

/** One native X25519 private key: what an adapter implements. */
export interface NativeX25519Key {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The shared secret with a 32-byte peer key; throws on a low-order or invalid key. */
  derive(peerPublicKey: Uint8Array): Uint8Array;
  /** The raw private key (the vault calls it only for keys created extractable). */
  exportPrivate(): Uint8Array;
}

/** One native Ed25519 private key: what an adapter implements. */
export interface NativeEd25519Key {
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte RFC 8032 signature of `data`. */
  sign(data: Uint8Array): Uint8Array;
  /** The 32-byte seed (the vault calls it only for keys created extractable). */
  exportPrivate(): Uint8Array;
}

/** A synchronous X25519 and Ed25519 implementation an adapter installs. */
export interface NativeCurves {
  /** Its name, e.g. `node:crypto`. */
  readonly name: string;
  /** A fresh X25519 key, generated where the implementation keeps its keys. */
  generateX25519(): NativeX25519Key;
  /** An X25519 key from 32 raw bytes (the caller keeps and wipes its own copy). */
  importX25519(raw: Uint8Array): NativeX25519Key;
  /** A fresh Ed25519 key, generated where the implementation keeps its keys. */
  generateEd25519(): NativeEd25519Key;
  /** An Ed25519 key from its 32-byte seed (the caller keeps and wipes its own copy). */
  importEd25519(seed: Uint8Array): NativeEd25519Key;
  /**
   * Whether `signature` (64 bytes) is `publicKey`'s (32 bytes) over `data`, with the verdicts
   * WebCrypto gives (`S < L`, canonical `A`, small-order `A` allowed, cofactorless); may throw
   * on a public key that is not a point (the vault reads that as `false`).
   */
  verifyEd25519(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Options that choose a curve backend: {@linkcode Backend}, or `native` (the installed one). */
export interface CurveBackendOptions {
  /**
   * Force one backend. By default the installed native one for X25519 and Ed25519, else
   * WebCrypto where the runtime supports the algorithm, else noble.
   */
  backend?: Backend | "native";
}

/** A key-agreement key that also agrees synchronously (native keys). */
export interface SyncKeyAgreementKey {
  /** The shared secret with `peerPublicKey`, now; a malformed or low-order key is a `VaultError`. */
  deriveSharedSecretSync(peerPublicKey: Uint8Array): Uint8Array;
}

/** A signing key that also signs synchronously (native keys). */
export interface SyncSigningKey {
  /** Signs `data` now, returning 64 bytes. */
  signSync(data: Uint8Array): Uint8Array;
}

/**
 * Whether `key` agrees synchronously ({@linkcode SyncKeyAgreementKey}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyAgreementKey, isSyncKeyAgreementKey } from "@sealroute/sealroute/vault";
 * const key = await generateKeyAgreementKey("X25519", { backend: "webcrypto" });
 * assert.equal(isSyncKeyAgreementKey(key), false);
 * ```
 */
export function isSyncKeyAgreementKey<K extends object>(key: K): key is K & SyncKeyAgreementKey {
  return typeof (key as Partial<SyncKeyAgreementKey>).deriveSharedSecretSync === "function";
}

/** Whether `key` signs synchronously ({@linkcode SyncSigningKey}). */
export function isSyncSigningKey<K extends object>(key: K): key is K & SyncSigningKey {
  return typeof (key as Partial<SyncSigningKey>).signSync === "function";
}

let installed: NativeCurves | undefined;

/**
 * Installs `curves` for every X25519 and Ed25519 key generated or imported from now on, and
 * for Ed25519 verification (`undefined`: back to WebCrypto). Runtime adapters call it; the
 * portable core does not. Keys made earlier keep their backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesBackend, installNativeCurves } from "@sealroute/sealroute/vault";
 * installNativeCurves(undefined);
 * assert.equal(curvesBackend(), "webcrypto");
 * ```
 */
export function installNativeCurves(curves: NativeCurves | undefined): void {
  installed = curves;
}

/**
 * Which implementation new X25519 and Ed25519 keys use: the installed native one's name,
 * else `webcrypto` (or noble where a runtime's WebCrypto lacks a curve).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesBackend } from "@sealroute/sealroute/vault";
 * assert.equal(typeof curvesBackend(), "string");
 * ```
 */
export function curvesBackend(): string {
  return installed?.name ?? "webcrypto";
}

/**
 * The native implementation `algorithm` uses under `options`: the installed one unless a
 * portable backend is forced. `backend: "native"` with none installed, or for a curve no
 * adapter provides (X448, P-256), is a `VaultError` `no-native-curves`.
 */
export function nativeCurvesFor(
  algorithm: string,
  options: CurveBackendOptions | undefined,
): NativeCurves | undefined {
  const backend = options?.backend;
  const covered = algorithm === "X25519" || algorithm === "Ed25519";
  if (backend === "native" && (!installed || !covered)) {
    throw new VaultError("no-native-curves", `no native ${algorithm} is installed`);
  }
  return covered && (backend === undefined || backend === "native") ? installed : undefined;
}

/** `options` for the portable path: a `native` choice never reaches it. */
export function portableOptions(
  options: CurveBackendOptions | undefined,
): { backend?: Backend } {
  const backend = options?.backend;
  return backend === "webcrypto" || backend === "noble" ? { backend } : {};
}
