/**
 * The vault: keys by id, generated non-extractable unless persisted, loaded back from a
 * {@linkcode KeyStore} after a restart.
 *
 * @module
 */
import { randomHex16 } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import type { CurveBackendOptions } from "./native_curves.ts";
import {
  type DhAlgorithm,
  generateKeyAgreementKey,
  importKeyAgreementKey,
  type KeyAgreementKey,
} from "./key_agreement.ts";
import { CHANNEL_SECRET, type KeyStore, MemoryKeyStore } from "./key_store.ts";
import {
  generateSigningKey,
  importSigningKey,
  type SignatureAlgorithm,
  type SigningKey,
} from "./signing.ts";

/** Options of {@linkcode Vault}. */
export interface VaultOptions extends CurveBackendOptions {
  /** Where persisted keys go; an in-memory store by default. */
  store?: KeyStore;
}

/** Options for a key the vault creates. */
export interface CreateKeyOptions {
  /** Write the key to the vault's store so it survives a restart. Default false. */
  persist?: boolean;
}

/** A key the vault holds, with the id to find it again. */
export interface VaultKey<K> {
  /** The key id (32 hex characters). */
  readonly id: string;
  /** The key. */
  readonly key: K;
}

/**
 * Holds keys by id. Keys that are not persisted never leave WebCrypto (or, with native curves
 * installed, `node:crypto`'s KeyObjects); persisted ones are written once to the store and
 * loaded back on demand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Vault, verifySignature } from "@sealroute/sealroute/vault";
 * const vault = new Vault();
 * const { id, key } = await vault.createSigningKey("Ed25519", { persist: true });
 * const again = await vault.signingKey(id);
 * const data = new Uint8Array([1, 2, 3]);
 * assert(await verifySignature("Ed25519", key.publicKey, data, await again.sign(data)));
 * ```
 */
export class Vault {
  #store: KeyStore;
  #backend: CurveBackendOptions;
  #loaded = new Map<string, SigningKey | KeyAgreementKey>();

  /** A vault over `options.store` (in memory by default). */
  constructor(options: VaultOptions = {}) {
    this.#store = options.store ?? new MemoryKeyStore();
    this.#backend = options.backend ? { backend: options.backend } : {};
  }

  /** Creates a signing key; with `persist`, writes it to the store. */
  async createSigningKey(
    algorithm: SignatureAlgorithm,
    options: CreateKeyOptions = {},
  ): Promise<VaultKey<SigningKey>> {
    const persist = options.persist ?? false;
    const key = await generateSigningKey(algorithm, {
      ...this.#backend,
      extractable: persist,
    });
    const id = randomHex16();
    if (persist) {
      await this.#store.set(id, {
        algorithm,
        privateKey: await key.exportPrivateKey(),
      });
      this.#loaded.set(
        id,
        await importSigningKey(
          algorithm,
          await key.exportPrivateKey(),
          this.#backend,
        ),
      );
    } else {
      this.#loaded.set(id, key);
    }
    return { id, key: this.#loaded.get(id) as SigningKey };
  }

  /** Creates a key-agreement key; with `persist`, writes it to the store. */
  async createKeyAgreementKey(
    algorithm: DhAlgorithm,
    options: CreateKeyOptions = {},
  ): Promise<VaultKey<KeyAgreementKey>> {
    const persist = options.persist ?? false;
    const key = await generateKeyAgreementKey(algorithm, {
      ...this.#backend,
      extractable: persist,
    });
    const id = randomHex16();
    if (persist) {
      const privateKey = await key.exportPrivateKey();
      await this.#store.set(id, { algorithm, privateKey });
      this.#loaded.set(
        id,
        await importKeyAgreementKey(algorithm, privateKey, this.#backend),
      );
    } else {
      this.#loaded.set(id, key);
    }
    return { id, key: this.#loaded.get(id) as KeyAgreementKey };
  }

  /** The signing key `id`; an unknown id or a key of another kind is a `VaultError`. */
  async signingKey(id: string): Promise<SigningKey> {
    const key = await this.#load(id);
    if (key.algorithm !== "Ed25519" && key.algorithm !== "ECDSA-P256") {
      throw new VaultError(
        "wrong-key-kind",
        `key '${id}' is ${key.algorithm}, not a signing key`,
      );
    }
    return key as SigningKey;
  }

  /** The key-agreement key `id`; an unknown id or a key of another kind is a `VaultError`. */
  async keyAgreementKey(id: string): Promise<KeyAgreementKey> {
    const key = await this.#load(id);
    if (key.algorithm !== "X25519" && key.algorithm !== "X448") {
      throw new VaultError(
        "wrong-key-kind",
        `key '${id}' is ${key.algorithm}, not a key-agreement key`,
      );
    }
    return key as KeyAgreementKey;
  }

  /** Forgets `id` here and in the store; resolves to whether it existed. */
  async deleteKey(id: string): Promise<boolean> {
    const here = this.#loaded.delete(id);
    return await this.#store.delete(id) || here;
  }

  async #load(id: string): Promise<SigningKey | KeyAgreementKey> {
    const cached = this.#loaded.get(id);
    if (cached) return cached;
    const stored = await this.#store.get(id);
    if (!stored) throw new VaultError("unknown-key", `no key with id '${id}'`);
    if (stored.algorithm === CHANNEL_SECRET) {
      throw new VaultError("wrong-key-kind", `key '${id}' is a channel secret, not a key`);
    }
    const key = stored.algorithm === "X25519" || stored.algorithm === "X448"
      ? await importKeyAgreementKey(
        stored.algorithm,
        stored.privateKey,
        this.#backend,
      )
      : await importSigningKey(
        stored.algorithm,
        stored.privateKey,
        this.#backend,
      );
    this.#loaded.set(id, key);
    return key;
  }
}
