/**
 * Where a device keeps its identity between runs: the change history, the vault key ids
 * of its primary and purpose keys, the purpose-key attestations and its credentials.
 * Private keys stay in the vault's key store; this store holds only ids and public data.
 *
 * @module
 */

/** A purpose key as stored: the vault key id and the attestation CBOR. */
export interface StoredPurposeKey {
  /** Vault key id of the private key. */
  keyId: string;
  /** CBOR of the `PurposeKeyAttestation`. */
  attestation: Uint8Array;
}

/** Everything a device needs to resume an identity. */
export interface IdentityRecord {
  /** The change history CBOR. */
  changeHistory: Uint8Array;
  /** Vault key id of the current primary key. */
  primaryKeyId: string;
  /** The current secure-channel purpose key, if any. */
  secureChannelKey?: StoredPurposeKey;
  /** The current credential-signing purpose key, if any. */
  credentialKey?: StoredPurposeKey;
  /** Credentials held by this identity (`CredentialAndPurposeKey` CBOR each). */
  credentials: Uint8Array[];
}

/** Storage for identity records by name. A file, a database or KV can implement it. */
export interface IdentityStore {
  /** The record named `name`, or `undefined`. */
  get(name: string): Promise<IdentityRecord | undefined>;
  /** Stores `record` under `name`, replacing any previous one. */
  set(name: string, record: IdentityRecord): Promise<void>;
  /** Removes `name`; resolves to whether it existed. */
  delete(name: string): Promise<boolean>;
}

function copyRecord(record: IdentityRecord): IdentityRecord {
  const copy: IdentityRecord = {
    changeHistory: record.changeHistory.slice(),
    primaryKeyId: record.primaryKeyId,
    credentials: record.credentials.map((c) => c.slice()),
  };
  if (record.secureChannelKey) {
    copy.secureChannelKey = {
      keyId: record.secureChannelKey.keyId,
      attestation: record.secureChannelKey.attestation.slice(),
    };
  }
  if (record.credentialKey) {
    copy.credentialKey = {
      keyId: record.credentialKey.keyId,
      attestation: record.credentialKey.attestation.slice(),
    };
  }
  return copy;
}

/**
 * An identity store in this process's memory: records are lost at exit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryIdentityStore } from "@sealroute/sealroute/identity";
 * const store = new MemoryIdentityStore();
 * await store.set("device", { changeHistory: new Uint8Array([0x80]), primaryKeyId: "k", credentials: [] });
 * assert.equal((await store.get("device"))?.primaryKeyId, "k");
 * assert.equal(await store.delete("device"), true);
 * ```
 */
export class MemoryIdentityStore implements IdentityStore {
  #records = new Map<string, IdentityRecord>();

  /** The record named `name`, or `undefined`. */
  get(name: string): Promise<IdentityRecord | undefined> {
    const record = this.#records.get(name);
    return Promise.resolve(record && copyRecord(record));
  }

  /** Stores `record` under `name`. */
  set(name: string, record: IdentityRecord): Promise<void> {
    this.#records.set(name, copyRecord(record));
    return Promise.resolve();
  }

  /** Removes `name`. */
  delete(name: string): Promise<boolean> {
    return Promise.resolve(this.#records.delete(name));
  }
}
