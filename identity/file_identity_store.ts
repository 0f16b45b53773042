/**
 * An identity store in a directory: one JSON file per identity, written 0600 and
 * atomically (temp file, fsync, rename), so a crash never leaves half a record. Deno
 * only: exported from `@sealroute/sealroute/identity/deno`. Holds no secrets — private
 * keys live in the vault's key store (e.g. `FileKeyStore`).
 *
 * @module
 */
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import type { IdentityRecord, IdentityStore, StoredPurposeKey } from "./identity_store.ts";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "../vault/_files.ts";

const NAME = /^[0-9A-Za-z_-]{1,128}$/;
const KEY_ID = /^[0-9A-Za-z_-]{1,128}$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

function corrupt(name: string, detail: string): DecodeError {
  return new DecodeError("corrupt-identity", `identity file '${name}' is corrupted: ${detail}`);
}

function hexField(value: unknown, name: string, field: string): Uint8Array {
  if (typeof value !== "string" || !HEX.test(value)) throw corrupt(name, `bad ${field}`);
  return fromHex(value);
}

function purposeKeyField(
  value: unknown,
  name: string,
  field: string,
): StoredPurposeKey | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) throw corrupt(name, `bad ${field}`);
  const { keyId, attestation } = value as Record<string, unknown>;
  if (typeof keyId !== "string" || !KEY_ID.test(keyId)) throw corrupt(name, `bad ${field}.keyId`);
  return { keyId, attestation: hexField(attestation, name, `${field}.attestation`) };
}

/** Narrows a parsed JSON file to an {@linkcode IdentityRecord}. */
function recordFromJson(json: unknown, name: string): IdentityRecord {
  if (typeof json !== "object" || json === null) throw corrupt(name, "not an object");
  const o = json as Record<string, unknown>;
  if (o.version !== 1) throw corrupt(name, "unknown version");
  if (typeof o.primaryKeyId !== "string" || !KEY_ID.test(o.primaryKeyId)) {
    throw corrupt(name, "bad primaryKeyId");
  }
  if (!Array.isArray(o.credentials)) throw corrupt(name, "bad credentials");
  const record: IdentityRecord = {
    changeHistory: hexField(o.changeHistory, name, "changeHistory"),
    primaryKeyId: o.primaryKeyId,
    credentials: o.credentials.map((c, i) => hexField(c, name, `credentials[${i}]`)),
  };
  const sc = purposeKeyField(o.secureChannelKey, name, "secureChannelKey");
  if (sc) record.secureChannelKey = sc;
  const ck = purposeKeyField(o.credentialKey, name, "credentialKey");
  if (ck) record.credentialKey = ck;
  return record;
}

function recordToJson(record: IdentityRecord): string {
  const purpose = (k: StoredPurposeKey | undefined) =>
    k && { keyId: k.keyId, attestation: toHex(k.attestation) };
  return JSON.stringify({
    version: 1,
    changeHistory: toHex(record.changeHistory),
    primaryKeyId: record.primaryKeyId,
    secureChannelKey: purpose(record.secureChannelKey),
    credentialKey: purpose(record.credentialKey),
    credentials: record.credentials.map(toHex),
  });
}

/**
 * Persists identity records as files `<name>.identity.json` under a directory (created
 * 0700 if missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOrCreateIdentity } from "@sealroute/sealroute/identity";
 * import { FileIdentityStore } from "@sealroute/sealroute/identity/deno";
 * import { Vault } from "@sealroute/sealroute/vault";
 * import { FileKeyStore } from "@sealroute/sealroute/vault/deno";
 * const dir = await Deno.makeTempDir();
 * const open = () =>
 *   loadOrCreateIdentity({
 *     vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
 *     store: new FileIdentityStore(dir),
 *     name: "device",
 *   });
 * const first = await open();
 * const again = await open();
 * assert.equal(again.identifier, first.identifier);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileIdentityStore implements IdentityStore {
  #dir: string;

  /** A store over `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(name: string): string {
    if (!NAME.test(name)) {
      throw new TypeError("identity names are 1-128 characters of [0-9A-Za-z_-]");
    }
    return `${this.#dir}/${name}.identity.json`;
  }

  /** Reads record `name`; a corrupted file is a `DecodeError` with code `corrupt-identity`. */
  async get(name: string): Promise<IdentityRecord | undefined> {
    const text = await readTextIfExists(this.#path(name));
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw corrupt(name, "not JSON");
    }
    return recordFromJson(json, name);
  }

  /** Writes record `name` atomically with mode 0600. */
  async set(name: string, record: IdentityRecord): Promise<void> {
    await writeFileAtomic(
      this.#dir,
      this.#path(name),
      new TextEncoder().encode(recordToJson(record)),
    );
  }

  /** Deletes record `name`. */
  async delete(name: string): Promise<boolean> {
    return await removeIfExists(this.#path(name));
  }
}
