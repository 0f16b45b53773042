/**
 * Identities this process controls: creation, key rotation, purpose keys and their
 * attestations, and persistence across restarts through an {@linkcode IdentityStore}.
 *
 * @module
 */
import { equalBytes } from "../_bytes.ts";
import { TrustError, VaultError } from "../errors.ts";
import type { KeyAgreementKey, SignatureAlgorithm, SigningKey, Vault } from "../vault/mod.ts";
import { checkTimestamp, sha256, signHash, timeOf } from "./_common.ts";
import {
  type Change,
  decodeChangeHistory,
  encodeChangeData,
  encodeChangeHistory,
} from "./change_history.ts";
import { type CredentialAndPurposeKey, decodeCredential, encodeCredential } from "./credential.ts";
import { type Identity, importIdentity } from "./identity.ts";
import type { IdentityRecord, IdentityStore, StoredPurposeKey } from "./identity_store.ts";
import {
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  encodePurposeKeyAttestation,
  encodePurposeKeyAttestationData,
  type PurposeKeyAttestation,
  type PurposeKeyAttestationData,
  type PurposePublicKey,
} from "./purpose_key.ts";
import { type Clock, systemClock } from "./types.ts";

/** Ockam's `DEFAULT_IDENTITY_TTL`: ten years. */
export const DEFAULT_IDENTITY_TTL = 10 * 365 * 24 * 60 * 60;
/** Ockam's default purpose-key TTL: five years. */
export const DEFAULT_PURPOSE_KEY_TTL = 5 * 365 * 24 * 60 * 60;

/** Options for a new primary key (creation and rotation). */
export interface PrimaryKeyOptions {
  /** Primary key algorithm. Default `"Ed25519"`. */
  algorithm?: SignatureAlgorithm;
  /** Persist the private key in the vault's key store. Default false (true when stored). */
  persist?: boolean;
  /** The current time in seconds (attestations are valid from then). */
  clock?: Clock;
  /** Seconds the key may attest purpose keys for. Default ten years. */
  ttl?: number;
}

/** Options of {@linkcode createIdentity}. */
export type CreateIdentityOptions = PrimaryKeyOptions;

/** Options of {@linkcode LocalIdentity.rotate}. */
export interface RotateOptions extends PrimaryKeyOptions {
  /** Set Ockam's `revoke_all_purpose_keys` flag in the new change. Default false. */
  revokeAllPurposeKeys?: boolean;
}

/** Options for creating a purpose key. */
export interface PurposeKeyOptions {
  /** Persist the private key in the vault's key store. Default false (true when stored). */
  persist?: boolean;
  /** The current time in seconds. */
  clock?: Clock;
  /** Lifetime in seconds; capped at the identity's attestation window. Default five years. */
  ttl?: number;
}

/** Options for creating a credential-signing purpose key. */
export interface CredentialKeyOptions extends PurposeKeyOptions {
  /** Algorithm of the key. Default `"Ed25519"`. */
  algorithm?: SignatureAlgorithm;
}

/** A purpose key this process holds: the vault key, its id and its attestation. */
export interface PurposeKey<K> {
  /** Vault key id. */
  readonly keyId: string;
  /** The private key. */
  readonly key: K;
  /** The attestation to present to peers. */
  readonly attestation: PurposeKeyAttestation;
  /** What the attestation says. */
  readonly data: PurposeKeyAttestationData;
}

/** A secure-channel (Noise static, X25519) purpose key. */
export type SecureChannelKey = PurposeKey<KeyAgreementKey>;
/** A credential-signing purpose key. */
export type CredentialKey = PurposeKey<SigningKey>;

const INTERNAL: unique symbol = Symbol("local-identity");

interface State {
  identity: Identity;
  primaryKeyId: string;
  primaryKey: SigningKey;
  secureChannelKey?: SecureChannelKey;
  credentialKey?: CredentialKey;
  credentials: Uint8Array[];
}

/**
 * An identity whose primary key is in a vault of this process: it can rotate its key,
 * attest purpose keys and (as an authority) issue credentials. Obtain one from
 * {@linkcode createIdentity}, {@linkcode openIdentity} or {@linkcode loadOrCreateIdentity}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, importIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault(), { algorithm: "ECDSA-P256" });
 * await me.rotate({ revokeAllPurposeKeys: true });
 * const seen = await importIdentity(me.changeHistory);
 * assert.equal(seen.identifier, me.identifier);
 * assert.equal(seen.changes.length, 2);
 * ```
 */
export class LocalIdentity {
  #vault: Vault;
  #state: State;
  #save: ((record: IdentityRecord) => Promise<void>) | undefined;
  #persist: boolean;

  /** Internal: use {@linkcode createIdentity}, {@linkcode openIdentity} or {@linkcode loadOrCreateIdentity}. */
  constructor(
    token: typeof INTERNAL,
    vault: Vault,
    state: State,
    options: { save?: (record: IdentityRecord) => Promise<void>; persist: boolean },
  ) {
    if (token !== INTERNAL) throw new TypeError("use createIdentity() or openIdentity()");
    this.#vault = vault;
    this.#state = state;
    this.#save = options.save;
    this.#persist = options.persist;
  }

  /** The verified identity (changes after {@linkcode LocalIdentity.rotate}). */
  get identity(): Identity {
    return this.#state.identity;
  }

  /** The identifier's text form. */
  get identifier(): string {
    return this.#state.identity.identifier;
  }

  /** The change history CBOR, to send to peers. */
  get changeHistory(): Uint8Array {
    return this.#state.identity.changeHistory;
  }

  /** Vault key id of the current primary key. */
  get primaryKeyId(): string {
    return this.#state.primaryKeyId;
  }

  /** The credentials this identity holds (added with {@linkcode LocalIdentity.addCredential}). */
  get credentials(): CredentialAndPurposeKey[] {
    return this.#state.credentials.map((bytes) => decodeCredential(bytes));
  }

  /**
   * Adds a new change with a fresh primary key, signed by the new key and by the previous
   * one (OCKAM_WIRE §4.3). Attestations made with the previous key no longer verify
   * (Ockam only accepts attestations of the latest change), so the current purpose keys
   * are dropped and new ones are made on demand. The previous primary key and dropped
   * purpose keys are deleted from the vault. Resolves to the new identity.
   */
  async rotate(options: RotateOptions = {}): Promise<Identity> {
    const state = this.#state;
    const latest = state.identity.latestChange;
    const { now } = timeOf(options);
    // Ockam rejects a change whose valid_from precedes the previous one's.
    const validFrom = Math.max(now, latest.data.attestationsValidFrom);
    const { id, key } = await this.#vault.createSigningKey(options.algorithm ?? "Ed25519", {
      persist: options.persist ?? this.#persist,
    });
    const data = encodeChangeData({
      previousChange: latest.changeHash,
      primaryPublicKey: { algorithm: key.algorithm, publicKey: key.publicKey },
      revokeAllPurposeKeys: options.revokeAllPurposeKeys ?? false,
      attestationsValidFrom: validFrom,
      attestationsValidUntil: validFrom +
        checkTimestamp(options.ttl ?? DEFAULT_IDENTITY_TTL, "ttl"),
    });
    const hash = await sha256(data);
    const change: Change = {
      data,
      signature: await signHash(key, hash),
      previousSignature: await signHash(state.primaryKey, hash),
    };
    const history = encodeChangeHistory([
      ...decodeChangeHistory(state.identity.changeHistory),
      change,
    ]);
    const identity = await importIdentity(history);
    const stale = [state.primaryKeyId, state.secureChannelKey?.keyId, state.credentialKey?.keyId];
    this.#state = {
      identity,
      primaryKeyId: id,
      primaryKey: key,
      credentials: state.credentials,
    };
    await this.#store();
    for (const keyId of stale) {
      if (keyId !== undefined) await this.#vault.deleteKey(keyId);
    }
    return identity;
  }

  /**
   * Signs an attestation of `publicKey` with the current primary key, for the window
   * `createdAt`..`expiresAt`. Most callers want {@linkcode LocalIdentity.createSecureChannelKey}
   * or {@linkcode LocalIdentity.createCredentialKey} instead.
   */
  async attest(
    publicKey: PurposePublicKey,
    window: { createdAt: number; expiresAt: number },
  ): Promise<PurposeKeyAttestation> {
    const identity = this.#state.identity;
    const data = encodePurposeKeyAttestationData({
      subject: identity.identifier,
      subjectLatestChangeHash: identity.latestChangeHash,
      publicKey,
      createdAt: window.createdAt,
      expiresAt: window.expiresAt,
    });
    return { data, signature: await signHash(this.#state.primaryKey, await sha256(data)) };
  }

  /** Creates and attests a new X25519 secure-channel key; it becomes the current one. */
  async createSecureChannelKey(options: PurposeKeyOptions = {}): Promise<SecureChannelKey> {
    const { id, key } = await this.#vault.createKeyAgreementKey("X25519", {
      persist: options.persist ?? this.#persist,
    });
    const attestation = await this.attest(
      { type: "secure-channel", publicKey: key.publicKey },
      this.#window(options),
    );
    const created: SecureChannelKey = {
      keyId: id,
      key,
      attestation,
      data: decodePurposeKeyAttestationData(attestation.data),
    };
    const previous = this.#state.secureChannelKey?.keyId;
    this.#state.secureChannelKey = created;
    await this.#store();
    if (previous !== undefined) await this.#vault.deleteKey(previous);
    return created;
  }

  /** Creates and attests a new credential-signing key; it becomes the current one. */
  async createCredentialKey(options: CredentialKeyOptions = {}): Promise<CredentialKey> {
    const { id, key } = await this.#vault.createSigningKey(options.algorithm ?? "Ed25519", {
      persist: options.persist ?? this.#persist,
    });
    const attestation = await this.attest(
      {
        type: "credential-signing",
        key: { algorithm: key.algorithm, publicKey: key.publicKey },
      },
      this.#window(options),
    );
    const created: CredentialKey = {
      keyId: id,
      key,
      attestation,
      data: decodePurposeKeyAttestationData(attestation.data),
    };
    const previous = this.#state.credentialKey?.keyId;
    this.#state.credentialKey = created;
    await this.#store();
    if (previous !== undefined) await this.#vault.deleteKey(previous);
    return created;
  }

  /** The current secure-channel key if its attestation is valid now, else a new one. */
  async secureChannelKey(options: PurposeKeyOptions = {}): Promise<SecureChannelKey> {
    const current = this.#state.secureChannelKey;
    if (current && this.#stillValid(current.data, options.clock)) return current;
    return await this.createSecureChannelKey(options);
  }

  /** The current credential-signing key if its attestation is valid now, else a new one. */
  async credentialKey(options: CredentialKeyOptions = {}): Promise<CredentialKey> {
    const current = this.#state.credentialKey;
    if (current && this.#stillValid(current.data, options.clock)) return current;
    return await this.createCredentialKey(options);
  }

  /** Keeps `credential` (issued to this identity) and stores it with the identity. */
  async addCredential(credential: CredentialAndPurposeKey): Promise<void> {
    this.#state.credentials.push(encodeCredential(credential));
    await this.#store();
  }

  /** `LocalIdentity(I…)`. */
  toString(): string {
    return `LocalIdentity(${this.identifier})`;
  }

  #window(options: PurposeKeyOptions): { createdAt: number; expiresAt: number } {
    const { now } = timeOf(options);
    const latest = this.#state.identity.latestChange.data;
    // Attestations must sit inside the primary key's window (OCKAM_WIRE §5.2 step 4).
    const createdAt = Math.max(now, latest.attestationsValidFrom);
    const ttl = checkTimestamp(options.ttl ?? DEFAULT_PURPOSE_KEY_TTL, "ttl");
    const expiresAt = Math.min(createdAt + ttl, latest.attestationsValidUntil);
    if (expiresAt < createdAt) {
      throw new TrustError(
        "outside-identity-window",
        "the primary key's attestation window is over",
      );
    }
    return { createdAt, expiresAt };
  }

  // Our own attestation: we made and signed it, so checking that it still names our latest
  // change and has not expired is enough (no signature check per handshake).
  #stillValid(data: PurposeKeyAttestationData, clock: Clock | undefined): boolean {
    const now = (clock ?? systemClock)();
    return data.expiresAt >= now &&
      equalBytes(data.subjectLatestChangeHash, this.#state.identity.latestChangeHash);
  }

  async #store(): Promise<void> {
    if (!this.#save) return;
    const s = this.#state;
    const record: IdentityRecord = {
      changeHistory: s.identity.changeHistory,
      primaryKeyId: s.primaryKeyId,
      credentials: s.credentials,
    };
    if (s.secureChannelKey) record.secureChannelKey = stored(s.secureChannelKey);
    if (s.credentialKey) record.credentialKey = stored(s.credentialKey);
    await this.#save(record);
  }
}

function stored(key: PurposeKey<unknown>): StoredPurposeKey {
  return { keyId: key.keyId, attestation: encodePurposeKeyAttestation(key.attestation) };
}

/**
 * Creates an identity: a primary key in `vault` and a first change signed by it, with
 * attestations valid from now for `ttl` seconds (default ten years).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault(), { clock: () => 1_700_000_000, ttl: 3600 });
 * assert.match(me.identifier, /^I[0-9a-f]{64}$/);
 * assert.equal(me.identity.latestChange.data.attestationsValidUntil, 1_700_003_600);
 * ```
 */
export async function createIdentity(
  vault: Vault,
  options: CreateIdentityOptions = {},
): Promise<LocalIdentity> {
  return await create(vault, options, undefined);
}

async function create(
  vault: Vault,
  options: CreateIdentityOptions,
  save: ((record: IdentityRecord) => Promise<void>) | undefined,
): Promise<LocalIdentity> {
  const persist = options.persist ?? save !== undefined;
  const { now } = timeOf(options);
  const { id, key } = await vault.createSigningKey(options.algorithm ?? "Ed25519", { persist });
  const data = encodeChangeData({
    previousChange: null,
    primaryPublicKey: { algorithm: key.algorithm, publicKey: key.publicKey },
    revokeAllPurposeKeys: false,
    attestationsValidFrom: now,
    attestationsValidUntil: now + checkTimestamp(options.ttl ?? DEFAULT_IDENTITY_TTL, "ttl"),
  });
  const signature = await signHash(key, await sha256(data));
  const identity = await importIdentity(encodeChangeHistory([{ data, signature }]));
  const local = new LocalIdentity(
    INTERNAL,
    vault,
    { identity, primaryKeyId: id, primaryKey: key, credentials: [] },
    save ? { save, persist } : { persist },
  );
  if (save) {
    await save({ changeHistory: identity.changeHistory, primaryKeyId: id, credentials: [] });
  }
  return local;
}

/** What {@linkcode openIdentity} needs: a change history and the vault id of its latest key. */
export interface OpenIdentityOptions {
  /** The identity's change history CBOR. */
  changeHistory: Uint8Array;
  /** Vault key id of the private key of the history's latest primary key. */
  primaryKeyId: string;
}

/**
 * Resumes control of an existing identity whose latest primary key is in `vault`
 * (Ockam's `import_private_identity`). A history that does not verify is a `TrustError`;
 * a key that is not the latest primary key a `TrustError` `key-mismatch`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, openIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const vault = new Vault();
 * const first = await createIdentity(vault);
 * const again = await openIdentity(vault, {
 *   changeHistory: first.changeHistory,
 *   primaryKeyId: first.primaryKeyId,
 * });
 * assert.equal(again.identifier, first.identifier);
 * ```
 */
export async function openIdentity(
  vault: Vault,
  options: OpenIdentityOptions,
): Promise<LocalIdentity> {
  const state = await openState(vault, {
    changeHistory: options.changeHistory,
    primaryKeyId: options.primaryKeyId,
    credentials: [],
  });
  return new LocalIdentity(INTERNAL, vault, state, { persist: false });
}

async function openState(vault: Vault, record: IdentityRecord): Promise<State> {
  const identity = await importIdentity(record.changeHistory);
  const primaryKey = await vault.signingKey(record.primaryKeyId);
  const expected = identity.primaryPublicKey;
  if (
    primaryKey.algorithm !== expected.algorithm ||
    !equalBytes(primaryKey.publicKey, expected.publicKey)
  ) {
    throw new TrustError(
      "key-mismatch",
      `vault key '${record.primaryKeyId}' is not the latest primary key of ${identity.identifier}`,
    );
  }
  const state: State = {
    identity,
    primaryKeyId: record.primaryKeyId,
    primaryKey,
    credentials: record.credentials.map((c) => c.slice()),
  };
  if (record.secureChannelKey) {
    const loaded = await loadPurposeKey(record.secureChannelKey, (id) => vault.keyAgreementKey(id));
    if (loaded) state.secureChannelKey = loaded;
  }
  if (record.credentialKey) {
    const loaded = await loadPurposeKey(record.credentialKey, (id) => vault.signingKey(id));
    if (loaded) state.credentialKey = loaded;
  }
  return state;
}

async function loadPurposeKey<K extends { publicKey: Uint8Array }>(
  stored: StoredPurposeKey,
  load: (id: string) => Promise<K>,
): Promise<PurposeKey<K> | undefined> {
  let key: K;
  try {
    key = await load(stored.keyId);
  } catch (error) {
    // A purpose key that is gone (e.g. not persisted) is simply replaced on demand.
    if (error instanceof VaultError && error.code === "unknown-key") return undefined;
    throw error;
  }
  const attestation = decodePurposeKeyAttestation(stored.attestation);
  const data = decodePurposeKeyAttestationData(attestation.data);
  const attested = data.publicKey.type === "secure-channel"
    ? data.publicKey.publicKey
    : data.publicKey.key.publicKey;
  if (!equalBytes(attested, key.publicKey)) {
    throw new TrustError(
      "key-mismatch",
      `stored attestation does not attest vault key '${stored.keyId}'`,
    );
  }
  return { keyId: stored.keyId, key, attestation, data };
}

/** Options of {@linkcode loadOrCreateIdentity}. */
export interface LoadOrCreateIdentityOptions extends CreateIdentityOptions {
  /** The vault holding (and persisting) the private keys. */
  vault: Vault;
  /** Where the identity record is kept. */
  store: IdentityStore;
  /** The record's name in the store. */
  name: string;
}

/**
 * The identity stored under `name`, or a new one (keys persisted in the vault, record
 * written to the store). Every later change through the handle (rotation, new purpose
 * keys, added credentials) is written back, so a device keeps its identity and keys
 * across restarts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOrCreateIdentity, MemoryIdentityStore } from "@sealroute/sealroute/identity";
 * import { MemoryKeyStore, Vault } from "@sealroute/sealroute/vault";
 * const keys = new MemoryKeyStore();
 * const store = new MemoryIdentityStore();
 * const first = await loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "device" });
 * const key = await first.secureChannelKey();
 * const again = await loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "device" });
 * assert.equal(again.identifier, first.identifier);
 * assert.deepEqual((await again.secureChannelKey()).key.publicKey, key.key.publicKey);
 * ```
 */
export async function loadOrCreateIdentity(
  options: LoadOrCreateIdentityOptions,
): Promise<LocalIdentity> {
  const { vault, store, name } = options;
  const save = (record: IdentityRecord): Promise<void> => store.set(name, record);
  const record = await store.get(name);
  if (record === undefined) {
    const createOptions: CreateIdentityOptions = {};
    if (options.algorithm !== undefined) createOptions.algorithm = options.algorithm;
    if (options.persist !== undefined) createOptions.persist = options.persist;
    if (options.clock !== undefined) createOptions.clock = options.clock;
    if (options.ttl !== undefined) createOptions.ttl = options.ttl;
    return await create(vault, createOptions, save);
  }
  const state = await openState(vault, record);
  return new LocalIdentity(INTERNAL, vault, state, { save, persist: options.persist ?? true });
}
