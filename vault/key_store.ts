/**
 * Where persisted private keys live. The vault writes a key here only when asked to
 * persist it; every other key exists only as a non-extractable `CryptoKey` in memory.
 *
 * @module
 */
import type { DhAlgorithm } from "./key_agreement.ts";
import type { SignatureAlgorithm } from "./signing.ts";

/**
 * The algorithm of a stored channel secret: a resumable secure channel's state (its epoch
 * keys, nonce reservation and receive floor, `channel/channel_state.ts`), kept with the same
 * protection as every other persisted key. The vault never loads one as a key.
 */
export const CHANNEL_SECRET = "ChannelSecret";

/** Largest channel secret a store accepts, in bytes. */
export const MAX_CHANNEL_SECRET_LENGTH = 64 * 1024;

/** A persisted private key (or channel secret). */
export interface StoredKey {
  /** Its algorithm. */
  algorithm: SignatureAlgorithm | DhAlgorithm | typeof CHANNEL_SECRET;
  /** The raw private key bytes (a channel secret: 1 to 64 KiB). */
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
