/**
 * What a resumable secure channel persists, and where: one record per channel in the
 * vault's key store (a `ChannelSecret`, so a `FileKeyStore` keeps it as it keeps every
 * private key: one 0600 file written atomically), plus one index record listing them.
 *
 * A record holds the channel's role, cipher, both local addresses, the route to the peer,
 * the peer's identifier and verified credentials, and the two halves of its key state:
 *
 * - sending: an epoch `R` and the key of that epoch. Every nonce the channel ever used is
 *   below `R * 32`; a resumed channel sends from nonce `R * 32` on.
 * - receiving: an epoch `E`, its key, and a floor `F`: every frame the channel ever
 *   delivered has a nonce at most `F`; a resumed channel refuses those.
 *
 * A record is `SHA-256(body) || body` (the body is JSON); one that is truncated, altered
 * or malformed is refused with `ChannelError` `corrupt-state`, whose message never quotes
 * it. The checksum catches corruption, not an attacker who can write the key store (who
 * holds the keys anyway).
 *
 * @module
 */
import { buf, fromHex, randomHex16, toHex } from "../_bytes.ts";
import { ChannelError } from "../errors.ts";
import type { VerifiedCredential } from "../identity/mod.ts";
import { Address } from "../routing/address.ts";
import { Route } from "../routing/route.ts";
import { CHANNEL_SECRET, type KeyStore } from "../vault/key_store.ts";
import type { ChannelPeer } from "./channel_peer.ts";
import type { CipherName } from "./suite.ts";

/** One channel's persisted state (see the module documentation). */
export interface ChannelState {
  /** Which end of the handshake it is. */
  role: "initiator" | "responder";
  /** The transport cipher. */
  cipher: CipherName;
  /** This end's identifier (a resumed channel must be resumed by the same identity). */
  identifier: string;
  /** A responder's listener address. */
  listener?: Address;
  /** Where local plaintext goes in. */
  encryptorAddress: Address;
  /** Where the peer's frames arrive (the peer keeps sending there). */
  decryptorAddress: Address;
  /** The route to the peer's decryptor, as it was when the channel opened. */
  route: Route;
  /** The authenticated peer. */
  peer: ChannelPeer;
  /** Sending: resume at nonce `epoch * 32` with `key`, that epoch's key. */
  send: { epoch: number; key: Uint8Array };
  /** Receiving: `key` is epoch `epoch`'s key; nonces up to `floor` are refused. */
  receive: { epoch: number; key: Uint8Array; floor: number };
}

const MAX_ROUTE = 64;
const MAX_CHANNELS = 4096;
const NAME = /^[0-9A-Za-z_]{1,32}$/;

function corrupt(what: string): ChannelError {
  return new ChannelError("corrupt-state", `the persisted channel state ${what} is corrupt`);
}

function addressOut(a: Address): [number, string] {
  return [a.type, toHex(a.value)];
}

function encodeBody(s: ChannelState): unknown {
  return {
    v: 1,
    role: s.role,
    cipher: s.cipher,
    identifier: s.identifier,
    listener: s.listener ? addressOut(s.listener) : null,
    encryptor: addressOut(s.encryptorAddress),
    decryptor: addressOut(s.decryptorAddress),
    route: s.route.toArray().map(addressOut),
    peer: {
      identifier: s.peer.identifier,
      attributes: attributesOut(s.peer.attributes),
      credentials: (s.peer.credentials ?? []).map((c) => ({
        issuer: c.issuer,
        subject: c.subject,
        attributes: attributesOut(c.attributes),
        createdAt: c.createdAt,
        expiresAt: c.expiresAt,
        schema: c.schema,
      })),
    },
    send: { epoch: s.send.epoch, key: toHex(s.send.key) },
    receive: { epoch: s.receive.epoch, key: toHex(s.receive.key), floor: s.receive.floor },
  };
}

function attributesOut(a: Readonly<Record<string, Uint8Array>>): Record<string, string> {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, toHex(v)]));
}

/** Encodes `state` as a record: `SHA-256(body) || body`. */
export async function encodeChannelState(state: ChannelState): Promise<Uint8Array> {
  const body = new TextEncoder().encode(JSON.stringify(encodeBody(state)));
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", buf(body)));
  const out = new Uint8Array(32 + body.length);
  out.set(sum);
  out.set(body, 32);
  return out;
}

/** Decodes a record; anything but a well-formed one is `ChannelError` `corrupt-state`. */
export async function decodeChannelState(record: Uint8Array, id = "record"): Promise<ChannelState> {
  if (record.length < 33) throw corrupt(`'${id}'`);
  const body = record.subarray(32);
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", buf(body)));
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= sum[i]! ^ record[i]!;
  if (diff !== 0) throw corrupt(`'${id}'`);
  try {
    return parseBody(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)));
  } catch {
    // Never the parser's message: it may quote the record (key bytes).
    throw corrupt(`'${id}'`);
  }
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("object");
  return v as Json;
}

function int(v: unknown, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new Error("int");
  return v;
}

function str(v: unknown, max = 1024): string {
  if (typeof v !== "string" || v.length > max) throw new Error("string");
  return v;
}

function hex(v: unknown, length?: number): Uint8Array {
  const bytes = fromHex(str(v, 64 * 1024));
  if (length !== undefined && bytes.length !== length) throw new Error("length");
  return bytes;
}

function addressIn(v: unknown): Address {
  if (!Array.isArray(v) || v.length !== 2) throw new Error("address");
  return new Address(int(v[0], 0), hex(v[1]));
}

function attributesIn(v: unknown): Record<string, Uint8Array> {
  const entries = Object.entries(obj(v));
  if (entries.length > 256) throw new Error("attributes");
  return Object.fromEntries(entries.map(([k, x]) => [k, hex(x)]));
}

const FIELDS = [
  "v",
  "role",
  "cipher",
  "identifier",
  "listener",
  "encryptor",
  "decryptor",
  "route",
  "peer",
  "send",
  "receive",
].sort().join();

function parseBody(raw: unknown): ChannelState {
  const b = obj(raw);
  // Only what this module writes: no field more or less.
  if (Object.keys(b).sort().join() !== FIELDS) throw new Error("fields");
  if (b.v !== 1) throw new Error("version");
  if (b.role !== "initiator" && b.role !== "responder") throw new Error("role");
  if (b.cipher !== "AESGCM" && b.cipher !== "ChaChaPoly") throw new Error("cipher");
  const route = b.route;
  if (!Array.isArray(route) || route.length === 0 || route.length > MAX_ROUTE) {
    throw new Error("route");
  }
  const peer = obj(b.peer);
  const credentials = peer.credentials;
  if (!Array.isArray(credentials) || credentials.length > 64) throw new Error("credentials");
  const verified: VerifiedCredential[] = credentials.map((c) => {
    const o = obj(c);
    return {
      issuer: str(o.issuer),
      subject: str(o.subject),
      attributes: attributesIn(o.attributes),
      createdAt: int(o.createdAt, 0),
      expiresAt: int(o.expiresAt, 0),
      schema: int(o.schema, 0),
    };
  });
  const send = obj(b.send);
  const receive = obj(b.receive);
  const state: ChannelState = {
    role: b.role,
    cipher: b.cipher,
    identifier: str(b.identifier),
    encryptorAddress: addressIn(b.encryptor),
    decryptorAddress: addressIn(b.decryptor),
    route: new Route(route.map(addressIn)),
    peer: {
      identifier: str(peer.identifier),
      attributes: attributesIn(peer.attributes),
      ...(verified.length ? { credentials: verified } : {}),
    },
    send: { epoch: int(send.epoch, 1), key: hex(send.key, 32) },
    receive: {
      epoch: int(receive.epoch, 0),
      key: hex(receive.key, 32),
      floor: int(receive.floor, -1),
    },
  };
  if (b.listener !== null) state.listener = addressIn(b.listener);
  if (!state.encryptorAddress.isLocal || !state.decryptorAddress.isLocal) {
    throw new Error("addresses");
  }
  if (state.receive.floor < state.receive.epoch * 32 - 1) throw new Error("floor");
  return state;
}

/**
 * The persisted states of resumable channels, in a vault key store (e.g. a
 * `FileKeyStore`: 0600 files written atomically). Use one instance per key store and
 * process: the index of channels is updated by this instance alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChannelStateStore } from "@sealroute/sealroute/channel";
 * import { MemoryKeyStore } from "@sealroute/sealroute/vault";
 * const store = new ChannelStateStore(new MemoryKeyStore());
 * assert.deepEqual(await store.ids(), []);
 * ```
 */
export class ChannelStateStore {
  #keys: KeyStore;
  #name: string;
  #index: Promise<void> = Promise.resolve();
  #listed = new Set<string>();

  /** States kept in `keys`, under ids starting with `name` (default `channels`). */
  constructor(keys: KeyStore, options: { name?: string } = {}) {
    const name = options.name ?? "channels";
    if (!NAME.test(name)) throw new RangeError("a store name is 1-32 characters of [0-9A-Za-z_]");
    this.#keys = keys;
    this.#name = name;
  }

  /** A fresh id for a new channel's state. */
  newId(): string {
    return `${this.#name}-${randomHex16()}`;
  }

  /** The ids of the states listed (a listed id may have no state: see `load`). */
  async ids(): Promise<string[]> {
    await this.#index;
    return await this.#readIndex();
  }

  /** The state `id`, or `undefined`; a corrupt one is `ChannelError` `corrupt-state`. */
  async load(id: string): Promise<ChannelState | undefined> {
    this.#own(id);
    const stored = await this.#keys.get(id).catch(() => {
      throw corrupt(`'${id}'`);
    });
    if (!stored) return undefined;
    if (stored.algorithm !== CHANNEL_SECRET) throw corrupt(`'${id}'`);
    try {
      return await decodeChannelState(stored.privateKey, id);
    } finally {
      stored.privateKey.fill(0);
    }
  }

  /** Writes state `id` (listed in the index first, so a crash leaves no unlisted state). */
  async save(id: string, state: ChannelState): Promise<void> {
    this.#own(id);
    if (!this.#listed.has(id)) {
      await this.#updateIndex((ids) => ids.includes(id) ? undefined : [...ids, id]);
      this.#listed.add(id);
    }
    const record = await encodeChannelState(state);
    try {
      await this.#keys.set(id, { algorithm: CHANNEL_SECRET, privateKey: record });
    } finally {
      record.fill(0);
    }
  }

  /** Deletes state `id`, then its index entry. */
  async delete(id: string): Promise<void> {
    this.#own(id);
    this.#listed.delete(id);
    await this.#keys.delete(id);
    await this.#updateIndex((ids) => ids.includes(id) ? ids.filter((x) => x !== id) : undefined);
  }

  #own(id: string): void {
    if (
      !id.startsWith(`${this.#name}-`) || !/^[0-9a-f]{32}$/.test(id.slice(this.#name.length + 1))
    ) {
      throw new ChannelError("bad-state-id", "not an id of this channel state store");
    }
  }

  get #indexId(): string {
    return `${this.#name}-index`;
  }

  async #readIndex(): Promise<string[]> {
    const stored = await this.#keys.get(this.#indexId).catch(() => {
      throw corrupt("index");
    });
    if (!stored) return [];
    try {
      if (stored.algorithm !== CHANNEL_SECRET) throw new Error("algorithm");
      const ids: unknown = JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(stored.privateKey),
      );
      if (!Array.isArray(ids) || ids.length > MAX_CHANNELS) throw new Error("index");
      for (const id of ids) {
        if (typeof id !== "string") throw new Error("id");
        this.#own(id);
      }
      return ids as string[];
    } catch {
      throw corrupt("index");
    }
  }

  #updateIndex(change: (ids: string[]) => string[] | undefined): Promise<void> {
    const run = this.#index.catch(() => {}).then(async () => {
      const next = change(await this.#readIndex());
      if (!next) return;
      if (next.length > MAX_CHANNELS) {
        throw new ChannelError("too-many-channels", `at most ${MAX_CHANNELS} channels are kept`);
      }
      const bytes = new TextEncoder().encode(JSON.stringify(next));
      await this.#keys.set(this.#indexId, { algorithm: CHANNEL_SECRET, privateKey: bytes });
    });
    this.#index = run;
    return run;
  }
}
