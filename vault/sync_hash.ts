/**
 * Synchronous hash, HMAC and HKDF for protocol code that makes many small calls in a row
 * (a Noise handshake mixes the hash about eight times per side). WebCrypto's `digest`
 * costs a promise and a thread hop per call; for inputs of a few dozen bytes the
 * pure-JavaScript `@noble/hashes` code is several times faster. Hashing takes time that
 * depends only on the input length, so the JavaScript path leaks nothing WebCrypto hides.
 *
 * @module
 */
import { VaultError } from "../errors.ts";
import { loadNobleHashes } from "./backend.ts";
import { hashLength, type HashName } from "./hash.ts";

/** Synchronous functions over one hash; every output is a fresh array. */
export interface SyncHash {
  /** The hash's Noise name. */
  readonly name: HashName;
  /** Output length in bytes (Noise's HASHLEN). */
  readonly length: number;
  /** The digest of the concatenation of `parts`. */
  digest(...parts: Uint8Array[]): Uint8Array;
  /** HMAC (RFC 2104) of `data` under `key`. */
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF with an empty `info`: `length` bytes (at most 255 × the hash length). */
  hkdf(salt: Uint8Array, ikm: Uint8Array, length: number): Uint8Array;
}

const cache = new Map<HashName, Promise<SyncHash>>();

/**
 * Loads synchronous {@linkcode SyncHash} functions for `name` (SHA256, SHA512, BLAKE2s,
 * BLAKE2b), on `@noble/hashes`, loaded lazily once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { digest, hkdf, loadSyncHash } from "@sealroute/sealroute/vault";
 * const sha = await loadSyncHash("SHA256");
 * const data = new TextEncoder().encode("abc");
 * assert.deepEqual(sha.digest(data.subarray(0, 1), data.subarray(1)), await digest("SHA256", data));
 * const salt = new Uint8Array(32);
 * assert.deepEqual(sha.hkdf(salt, data, 64), await hkdf("SHA256", { salt, ikm: data, length: 64 }));
 * ```
 */
export function loadSyncHash(name: HashName): Promise<SyncHash> {
  let loaded = cache.get(name);
  if (!loaded) {
    const length = hashLength(name); // throws VaultError on an unknown name
    loaded = loadNobleHashes().then((noble) => {
      const hash = {
        SHA256: noble.sha256,
        SHA512: noble.sha512,
        BLAKE2s: noble.blake2s,
        BLAKE2b: noble.blake2b,
      }[name];
      return Object.freeze({
        name,
        length,
        digest(...parts: Uint8Array[]): Uint8Array {
          if (parts.length === 1) return hash(parts[0]!);
          const h = hash.create();
          for (const part of parts) h.update(part);
          return h.digest();
        },
        hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
          return noble.hmac(hash, key, data);
        },
        hkdf(salt: Uint8Array, ikm: Uint8Array, okmLength: number): Uint8Array {
          if (!Number.isInteger(okmLength) || okmLength < 1 || okmLength > 255 * length) {
            throw new VaultError(
              "bad-length",
              `HKDF length must be 1..${255 * length}, got ${okmLength}`,
            );
          }
          return noble.hkdf(hash, ikm, salt, undefined, okmLength);
        },
      });
    });
    cache.set(name, loaded);
  }
  return loaded;
}
