/**
 * Which implementation performs an operation: the runtime's WebCrypto, or the pure
 * JavaScript `@noble/*` fallback. The noble code is loaded lazily, only when a runtime's
 * WebCrypto lacks an algorithm or a caller asks for it.
 *
 * @module
 */

/** `"webcrypto"` or `"noble"`; omit to let the vault pick (WebCrypto where it works). */
export type Backend = "webcrypto" | "noble";

/** Options that choose a backend explicitly, for tests and for benchmarks. */
export interface BackendOptions {
  /** Force one backend; by default WebCrypto where the runtime supports the algorithm. */
  backend?: Backend;
}

type Noble = typeof import("./_noble.ts");
let noble: Promise<Noble> | undefined;
let nobleLoaded = false;

/** Loads the noble fallback once; later calls share the same module. */
export function loadNoble(): Promise<Noble> {
  noble ??= import("./_noble.ts").then((m) => {
    nobleLoaded = true;
    return m;
  });
  return noble;
}

type NobleHashes = typeof import("./_noble_hashes.ts");
let nobleHashes: Promise<NobleHashes> | undefined;

/** Loads the noble hash functions once (BLAKE2, and synchronous SHA-2 for protocol code). */
export function loadNobleHashes(): Promise<NobleHashes> {
  nobleHashes ??= import("./_noble_hashes.ts");
  return nobleHashes;
}

/**
 * Whether the noble curve and cipher fallback has been loaded in this process: where
 * WebCrypto lacks X25519, X448 or Ed25519, for ChaCha20-Poly1305, for raw P-256 key
 * imports, or by a forced backend. (The small hash chunk the handshake uses is apart.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNobleLoaded } from "@sealroute/sealroute/vault";
 * assert(typeof isNobleLoaded() === "boolean");
 * ```
 */
export function isNobleLoaded(): boolean {
  return nobleLoaded;
}

const support = new Map<string, Promise<boolean>>();

/**
 * Whether this runtime's WebCrypto implements `algorithm` (probed once by generating a key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { webCryptoSupports } from "@sealroute/sealroute/vault";
 * assert(await webCryptoSupports("X25519") === true); // Deno has it
 * ```
 */
export function webCryptoSupports(
  algorithm: "X25519" | "X448" | "Ed25519",
): Promise<boolean> {
  let probe = support.get(algorithm);
  if (!probe) {
    const usages: KeyUsage[] = algorithm === "Ed25519" ? ["sign", "verify"] : ["deriveBits"];
    probe = crypto.subtle.generateKey({ name: algorithm }, false, usages).then(
      () => true,
      () => false,
    );
    support.set(algorithm, probe);
  }
  return probe;
}

/** Resolves the backend for `algorithm`: the forced one, else WebCrypto if it has it. */
export async function pickBackend(
  algorithm: "X25519" | "X448" | "Ed25519" | "ECDSA-P256",
  options?: BackendOptions,
): Promise<Backend> {
  if (options?.backend) return options.backend;
  if (algorithm === "ECDSA-P256") return "webcrypto";
  return await webCryptoSupports(algorithm) ? "webcrypto" : "noble";
}
