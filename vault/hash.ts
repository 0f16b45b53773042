/**
 * Hashes, HMAC and HKDF over SHA-256, SHA-512, BLAKE2s and BLAKE2b.
 *
 * SHA-2 runs on WebCrypto; BLAKE2 (absent from WebCrypto) on `@noble/hashes`, loaded
 * lazily. HKDF is RFC 5869, which with an empty `info` is exactly Noise's HKDF (§4.3).
 *
 * @module
 */
import { buf } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import { type BackendOptions, loadNobleHashes } from "./backend.ts";

/** A hash function by its Noise name. */
export type HashName = "SHA256" | "SHA512" | "BLAKE2s" | "BLAKE2b";

const LENGTHS: Record<HashName, { hash: number; block: number }> = {
  SHA256: { hash: 32, block: 64 },
  SHA512: { hash: 64, block: 128 },
  BLAKE2s: { hash: 32, block: 64 },
  BLAKE2b: { hash: 64, block: 128 },
};
const WEB_NAMES: Partial<Record<HashName, string>> = {
  SHA256: "SHA-256",
  SHA512: "SHA-512",
};

/**
 * Output length of `name` in bytes (Noise's HASHLEN).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashLength } from "@sealroute/sealroute/vault";
 * assert(hashLength("SHA512") === 64);
 * ```
 */
export function hashLength(name: HashName): number {
  return checkHash(name).hash;
}

function checkHash(name: HashName): { hash: number; block: number } {
  const lengths = LENGTHS[name];
  if (!lengths) {
    throw new VaultError("unknown-algorithm", `unknown hash '${String(name)}'`);
  }
  return lengths;
}

async function nobleHash(name: HashName) {
  const n = await loadNobleHashes();
  return {
    SHA256: n.sha256,
    SHA512: n.sha512,
    BLAKE2s: n.blake2s,
    BLAKE2b: n.blake2b,
  }[name];
}

/**
 * The `name` digest of `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { digest } from "@sealroute/sealroute/vault";
 * const h = await digest("SHA256", new TextEncoder().encode("abc"));
 * assert(h[0] === 0xba && h.length === 32);
 * ```
 */
export async function digest(
  name: HashName,
  data: Uint8Array,
  options?: BackendOptions,
): Promise<Uint8Array> {
  checkHash(name);
  const web = WEB_NAMES[name];
  if (web && options?.backend !== "noble") {
    return new Uint8Array(await crypto.subtle.digest(web, buf(data)));
  }
  return (await nobleHash(name))(data);
}

/**
 * HMAC-`name` of `data` under `key` (RFC 2104).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hmac } from "@sealroute/sealroute/vault";
 * const tag = await hmac("BLAKE2s", new Uint8Array(32), new Uint8Array([1, 2, 3]));
 * assert(tag.length === 32);
 * ```
 */
export async function hmac(
  name: HashName,
  key: Uint8Array,
  data: Uint8Array,
  options?: BackendOptions,
): Promise<Uint8Array> {
  checkHash(name);
  const web = WEB_NAMES[name];
  if (web && options?.backend !== "noble") {
    // WebCrypto refuses a zero-length HMAC key. RFC 2104 pads a short key with zeros to
    // the block size, so one zero byte is the same key.
    const k = await crypto.subtle.importKey(
      "raw",
      buf(key.length === 0 ? new Uint8Array(1) : key),
      { name: "HMAC", hash: web },
      false,
      [
        "sign",
      ],
    );
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, buf(data)));
  }
  const n = await loadNobleHashes();
  return n.hmac(await nobleHash(name), key, data);
}

/** Inputs of {@linkcode hkdf}. */
export interface HkdfOptions extends BackendOptions {
  /** The salt (Noise: the chaining key). */
  salt: Uint8Array;
  /** Input keying material. */
  ikm: Uint8Array;
  /** Context; empty by default, as Noise uses it. */
  info?: Uint8Array;
  /** Output length in bytes, at most 255 × the hash length. */
  length: number;
}

/**
 * RFC 5869 HKDF-`name`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdf } from "@sealroute/sealroute/vault";
 * const okm = await hkdf("SHA256", { salt: new Uint8Array(32), ikm: new Uint8Array(32), length: 64 });
 * assert(okm.length === 64);
 * ```
 */
export async function hkdf(
  name: HashName,
  options: HkdfOptions,
): Promise<Uint8Array> {
  const { hash } = checkHash(name);
  const { salt, ikm, info = new Uint8Array(), length } = options;
  if (!Number.isInteger(length) || length < 1 || length > 255 * hash) {
    throw new VaultError(
      "bad-length",
      `HKDF length must be 1..${255 * hash}, got ${length}`,
    );
  }
  const web = WEB_NAMES[name];
  if (web && options.backend !== "noble") {
    const k = await crypto.subtle.importKey("raw", buf(ikm), "HKDF", false, [
      "deriveBits",
    ]);
    const bits = await crypto.subtle.deriveBits(
      { name: "HKDF", hash: web, salt: buf(salt), info: buf(info) },
      k,
      length * 8,
    );
    return new Uint8Array(bits);
  }
  const n = await loadNobleHashes();
  return n.hkdf(await nobleHash(name), ikm, salt, info, length);
}
