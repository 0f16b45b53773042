/**
 * A key store in a directory: one file per key, written 0600 and atomically (temp file,
 * fsync, rename), so a crash never leaves half a key and a restart finds every key.
 * Deno only: exported from `@sealroute/sealroute/vault/deno`.
 *
 * @module
 */
import { fromHex, toHex } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import {
  CHANNEL_SECRET,
  type KeyStore,
  MAX_CHANNEL_SECRET_LENGTH,
  type StoredKey,
} from "./key_store.ts";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "./_files.ts";
import { PRIVATE_LENGTH } from "./_pkcs8.ts";

const ID = /^[0-9A-Za-z_-]{1,128}$/;

/**
 * Persists keys as files `<id>.key` under a directory (created 0700 if missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileKeyStore } from "@sealroute/sealroute/vault/deno";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const dir = await Deno.makeTempDir();
 * const vault = new Vault({ store: new FileKeyStore(dir) });
 * const { id } = await vault.createSigningKey("Ed25519", { persist: true });
 * const restarted = new Vault({ store: new FileKeyStore(dir) });
 * assert((await restarted.signingKey(id)).algorithm === "Ed25519");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileKeyStore implements KeyStore {
  #dir: string;

  /** A store over `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(id: string): string {
    if (!ID.test(id)) {
      throw new VaultError(
        "bad-key-id",
        "key ids are 1-128 characters of [0-9A-Za-z_-]",
      );
    }
    return `${this.#dir}/${id}.key`;
  }

  /** Reads key `id`; a corrupted or truncated file is a `VaultError` with code `corrupt-key`. */
  async get(id: string): Promise<StoredKey | undefined> {
    const text = await readTextIfExists(this.#path(id));
    if (text === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null) {
        throw new Error("not an object");
      }
      const { algorithm, privateKey } = parsed as Record<string, unknown>;
      const secret = algorithm === CHANNEL_SECRET;
      const length = typeof algorithm === "string" && Object.hasOwn(PRIVATE_LENGTH, algorithm)
        ? PRIVATE_LENGTH[algorithm]
        : undefined;
      if (length === undefined && !secret) throw new Error("algorithm");
      if (typeof privateKey !== "string") throw new Error("privateKey");
      if (secret && privateKey.length > 2 * MAX_CHANNEL_SECRET_LENGTH) throw new Error("length");
      // A well-formed file whose key has the wrong length is as corrupt as garbage.
      const bytes = fromHex(privateKey);
      if (secret ? bytes.length === 0 : bytes.length !== length) throw new Error("length");
      return { algorithm: algorithm as StoredKey["algorithm"], privateKey: bytes };
    } catch {
      throw new VaultError(
        "corrupt-key",
        `key file for '${id}' is corrupted or truncated`,
      );
    }
  }

  /** Writes key `id` atomically with mode 0600. */
  async set(id: string, key: StoredKey): Promise<void> {
    if (
      key.algorithm === CHANNEL_SECRET &&
      (key.privateKey.length === 0 || key.privateKey.length > MAX_CHANNEL_SECRET_LENGTH)
    ) {
      throw new VaultError("bad-key-length", "a channel secret is 1 to 64 KiB");
    }
    const body = JSON.stringify({ algorithm: key.algorithm, privateKey: toHex(key.privateKey) });
    await writeFileAtomic(this.#dir, this.#path(id), new TextEncoder().encode(body));
  }

  /** Deletes key `id`. */
  async delete(id: string): Promise<boolean> {
    return await removeIfExists(this.#path(id));
  }
}
