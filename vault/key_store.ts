/**
 * Where persisted private keys live. The vault writes a key here only when asked to
 * persist it; every other key exists only as a non-extractable `CryptoKey` in memory.
 *
 * @module
 */
import type { DhAlgorithm } from "./key_agreement.ts";
import type { SignatureAlgorithm } from "./signing.ts";

/** A persisted private key. */
export interface StoredKey {
  /** Its algorithm. */
  algorithm: SignatureAlgorithm | DhAlgorithm;
  /** The raw private key bytes. */
  privateKey: Uint8Array;
}

/** Storage for persisted keys, by id. A file, a database or a secure element can implement it. */
export interface KeyStore {
  /** The key stored under `id`, or `undefined`. */
  get(id: string): Promise<StoredKey | undefined>;
  /** Stores `key` under `id`, replacing any previous one. */
  set(id: string, key: StoredKey): Promise<void>;
  /** Removes `id`; resolves to whether it existed. */
  delete(id: string): Promise<boolean>;
}

/**
 * A key store in this process's memory: keys are lost at exit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryKeyStore } from "@sealroute/sealroute/vault";
 * const store = new MemoryKeyStore();
 * await store.set("k1", { algorithm: "Ed25519", privateKey: new Uint8Array(32) });
 * assert((await store.get("k1"))?.algorithm === "Ed25519");
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  #keys = new Map<string, StoredKey>();

  /** The key stored under `id`, or `undefined`. */
  get(id: string): Promise<StoredKey | undefined> {
    const key = this.#keys.get(id);
    return Promise.resolve(
      key && { ...key, privateKey: key.privateKey.slice() },
    );
  }

  /** Stores `key` under `id`. */
  set(id: string, key: StoredKey): Promise<void> {
    this.#keys.set(id, { ...key, privateKey: key.privateKey.slice() });
    return Promise.resolve();
  }

  /** Removes `id`. */
  delete(id: string): Promise<boolean> {
    return Promise.resolve(this.#keys.delete(id));
  }
}
