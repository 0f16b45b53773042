/**
 * The fleet's registry of relay names and relay nodes, in two JetStream key-value buckets.
 *
 * @module
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { TransportError } from "../errors.ts";

/** Who holds a relay name in the fleet, and where. */
export interface NameRecord {
  /** The holder's identifier. */
  readonly identity: string;
  /** The relay node the holder registered at last. */
  readonly node: string;
  /** How many claims the name has seen (a takeover by the same identity is one more). */
  readonly epoch: number;
  /** When the record was written, in ms since the epoch. */
  readonly at: number;
}

/** Options for {@linkcode FleetRegistry.open}. */
export interface FleetRegistryOptions {
  /** This relay node's name in the fleet. */
  node: string;
  /** Bucket of names. Default `sealroute_names`. */
  namesBucket?: string;
  /** Bucket of relay nodes. Default `sealroute_nodes`. */
  nodesBucket?: string;
  /** Replicas of both buckets. Default 1. */
  replicas?: number;
  /**
   * How long a name's record lives unless its holder's relay writes it again, in ms (relays
   * rewrite the records of their online holders every third of it). Default 3,600,000.
   */
  nameTtl?: number;
  /**
   * How long a relay node counts as alive after it last said so, in ms (each says so every
   * third of it). Default 6,000.
   */
  nodeTtl?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_IDENTITY = 1024;
const NODE = /^[A-Za-z0-9_-]{1,64}$/;

function keyOf(name: string): string {
  let binary = "";
  for (const b of encoder.encode(name)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function nameOf(key: string): string | undefined {
  try {
    const binary = atob(key.replaceAll("-", "+").replaceAll("_", "/"));
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/**
 * Parses a stored name record; `undefined` for one that is not well formed (the bucket is
 * shared by the fleet: what is in it is checked, not trusted).
 * @internal
 */
export function parseNameRecord(value: Uint8Array): NameRecord | undefined {
  if (value.length > 4096) return undefined;
  try {
    const r = JSON.parse(decoder.decode(value)) as Record<string, unknown>;
    if (
      typeof r.identity === "string" && r.identity.length > 0 &&
      r.identity.length <= MAX_IDENTITY && typeof r.node === "string" && NODE.test(r.node) &&
      Number.isSafeInteger(r.epoch) && typeof r.at === "number"
    ) {
      return { identity: r.identity, node: r.node, epoch: r.epoch as number, at: r.at };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * Names → holder in a key-value bucket shared by every relay of a fleet, with a cache kept
 * current by a watch; relay nodes → liveness in another bucket. A claim is a compare-and-set
 * on the name's revision, so of any number of concurrent claims fleet-wide the same rules
 * hold as on one relay: a free name goes to the first, the holder's identity may move it to
 * another relay (a takeover), any other identity is refused.
 */
export class FleetRegistry {
  readonly #names: KV;
  readonly #nodes: KV;
  readonly #node: string;
  readonly #nodeTtl: number;
  readonly #cache = new Map<string, NameRecord>();
  /** The revision each name's cached record came from: older news is ignored. */
  readonly #revisions = new Map<string, number>();
  readonly #listeners = new Set<(name: string, record: NameRecord | undefined) => void>();
  readonly #boot = crypto.randomUUID();
  #stop: () => void = () => {};
  #beat: ReturnType<typeof setInterval> | undefined;

  private constructor(names: KV, nodes: KV, node: string, nodeTtl: number) {
    this.#names = names;
    this.#nodes = nodes;
    this.#node = node;
    this.#nodeTtl = nodeTtl;
  }

  /**
   * Opens (creating when missing) the buckets, starts watching names and says this node is
   * alive every third of `nodeTtl`. Resolves once the names present are in the cache.
   *
   * @throws {TransportError} code `fleet-unavailable` when JetStream does not answer.
   * @example
   * ```ts ignore
   * import { jetstream } from "@nats-io/jetstream";
   * import { FleetRegistry } from "@sealroute/sealroute/fleet";
   * const registry = await FleetRegistry.open(jetstream(nc), { node: "relay-a" });
   * ```
   */
  static async open(js: JetStreamClient, options: FleetRegistryOptions): Promise<FleetRegistry> {
    if (!NODE.test(options.node)) {
      throw new TransportError("bad-name", "fleet node names are 1-64 of [A-Za-z0-9_-]");
    }
    const nodeTtl = options.nodeTtl ?? 6000;
    const kvm = new Kvm(js);
    const replicas = options.replicas ?? 1;
    let registry: FleetRegistry;
    try {
      const names = await kvm.create(options.namesBucket ?? "sealroute_names", {
        history: 1,
        replicas,
        ttl: options.nameTtl ?? 3_600_000,
      });
      const nodes = await kvm.create(options.nodesBucket ?? "sealroute_nodes", {
        history: 1,
        replicas,
        ttl: nodeTtl,
      });
      registry = new FleetRegistry(names, nodes, options.node, nodeTtl);
      await registry.#start();
    } catch (error) {
      if (error instanceof TransportError) throw error;
      throw new TransportError("fleet-unavailable", "the fleet's registry buckets are not ready", {
        cause: error,
      });
    }
    return registry;
  }

  /** This relay node's name. */
  get node(): string {
    return this.#node;
  }

  /** The record of `name` (a relay address, e.g. `forward_to_sensor`), as last seen. */
  lookup(name: string): NameRecord | undefined {
    return this.#cache.get(name);
  }

  /** Every name in the cache and its record. */
  entries(): IterableIterator<[string, NameRecord]> {
    return this.#cache.entries();
  }

  /** Calls `listener` with each change to a name's record (`undefined`: removed). */
  onChange(listener: (name: string, record: NameRecord | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Claims `name` for `identity` at this node. Resolves `undefined` once the record says so,
   * or the text of a refusal (held by another identity; no identity; the record kept
   * changing under us).
   */
  async claim(name: string, identity: string | undefined): Promise<string | undefined> {
    if (identity === undefined) return "a fleet relay binds names only through a secure channel";
    const key = keyOf(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = await this.#names.get(key);
      const current = entry && entry.operation === "PUT" ? parseNameRecord(entry.value) : undefined;
      if (current && current.identity !== identity) {
        return `'${name.slice(0, 64)}' is held by another identity in the fleet`;
      }
      const next: NameRecord = {
        identity,
        node: this.#node,
        epoch: (current?.epoch ?? 0) + 1,
        at: Date.now(),
      };
      const value = encoder.encode(JSON.stringify(next));
      try {
        const revision = entry
          ? await this.#names.update(key, value, entry.revision)
          : await this.#names.create(key, value);
        this.#set(name, next, revision);
        return undefined;
      } catch (error) {
        if (!/wrong last sequence|key exists/i.test(String(error))) throw error;
      }
    }
    return `'${name.slice(0, 64)}' is being claimed elsewhere in the fleet; try again`;
  }

  /** Writes `name`'s record again (its holder is online here), so it does not expire. */
  async touch(name: string): Promise<void> {
    const current = this.#cache.get(name);
    if (!current || current.node !== this.#node) return;
    const next = { ...current, at: Date.now() };
    const seen = this.#revisions.get(name) ?? 0;
    // Only over the record we know: a claim elsewhere meanwhile wins.
    const revision = await this.#names.update(
      keyOf(name),
      encoder.encode(JSON.stringify(next)),
      seen,
    ).catch(() => undefined);
    if (revision !== undefined) this.#set(name, next, revision);
  }

  /** Removes `name`'s record if this node is still where it is held. */
  async remove(name: string): Promise<void> {
    const key = keyOf(name);
    const entry = await this.#names.get(key);
    const current = entry && entry.operation === "PUT" ? parseNameRecord(entry.value) : undefined;
    if (!entry || !current || current.node !== this.#node) return;
    await this.#names.delete(key, { previousSeq: entry.revision }).catch(() => {});
  }

  /** The relay nodes that said they are alive within `nodeTtl`, with their boot ids. */
  async nodes(): Promise<Map<string, string>> {
    const alive = new Map<string, string>();
    for await (const key of await this.#nodes.keys()) {
      const entry = await this.#nodes.get(key);
      if (!entry || entry.operation !== "PUT" || !NODE.test(key)) continue;
      if (Date.now() - entry.created.getTime() > this.#nodeTtl) continue;
      alive.set(key, entry.string().slice(0, 64));
    }
    return alive;
  }

  /** Stops watching and saying this node is alive (its liveness record is removed). */
  async close(): Promise<void> {
    clearInterval(this.#beat);
    this.#stop();
    await this.#nodes.delete(this.#node).catch(() => {});
  }

  async #start(): Promise<void> {
    const beat = () => this.#nodes.put(this.#node, encoder.encode(this.#boot)).catch(() => {});
    await this.#nodes.put(this.#node, encoder.encode(this.#boot));
    this.#beat = setInterval(beat, Math.max(100, Math.floor(this.#nodeTtl / 3)));
    const watch = await this.#names.watch({ key: ">" });
    this.#stop = () => watch.stop();
    let ready!: () => void;
    const caughtUp = new Promise<void>((resolve) => ready = resolve);
    if ((await this.#names.status()).values === 0) ready();
    void (async () => {
      for await (const entry of watch) {
        const name = nameOf(entry.key);
        if (name !== undefined) {
          const record = entry.operation === "PUT" ? parseNameRecord(entry.value) : undefined;
          this.#set(name, record, entry.revision);
        }
        // The first values come with how many are still to come.
        if (entry.isUpdate || entry.delta === 0) ready();
      }
    })().catch(() => {}).finally(ready);
    await caughtUp;
  }

  #set(name: string, record: NameRecord | undefined, revision: number): void {
    if (revision <= (this.#revisions.get(name) ?? 0)) return;
    this.#revisions.set(name, revision);
    const old = this.#cache.get(name);
    if (record) this.#cache.set(name, record);
    else this.#cache.delete(name);
    if (old?.node === record?.node && old?.epoch === record?.epoch) return;
    for (const listener of this.#listeners) listener(name, record);
  }
}
