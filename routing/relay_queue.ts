/**
 * Store-and-forward at a relay: while the device behind a relay name is offline, frames
 * addressed to the name wait here, bounded in count, bytes and age per name and in total,
 * and are handed back in order when the same identity registers the name again. The frames
 * are whatever the sender put on the wire: inside a secure channel, ciphertext the relay
 * cannot read. What a bound refuses is refused at once ({@linkcode RelayQueue.put} returns
 * why), never dropped later without a record; frames past their age are counted as expired
 * when the name's queue is next touched.
 *
 * Where the frames live is a {@linkcode RelayQueueStore}: in memory by default
 * ({@linkcode MemoryRelayQueueStore}), or an embedded database that survives a restart
 * (`SqliteRelayQueueStore` in `@sealroute/sealroute/routing/deno`).
 *
 * @module
 */

/** One frame waiting for its name's device. */
export interface QueuedFrame {
  /** The frame: an encoded transport message (routes and payload). */
  readonly bytes: Uint8Array;
  /** When it was accepted, in ms since the epoch. */
  readonly at: number;
}

/** A name with frames waiting, as a store lists it. */
export interface QueuedName {
  /** The relay's address, e.g. `forward_to_sensor`. */
  readonly name: string;
  /** The identity that held the name when the frames were accepted. */
  readonly identity: string;
  /** Frames waiting. */
  readonly count: number;
  /** Their bytes. */
  readonly bytes: number;
}

/**
 * Where queued frames live. Calls are synchronous (an embedded database answers at once), so
 * a queue's check and its change are one step.
 */
export interface RelayQueueStore {
  /** Appends a frame to `name`'s queue, held for `identity`. */
  append(name: string, identity: string, frame: QueuedFrame): void;
  /** Removes and returns up to `max` of `name`'s oldest frames, oldest first. */
  shift(name: string, max: number): QueuedFrame[];
  /** Removes `name`'s frames accepted before `before`; returns how many and their bytes. */
  expire(name: string, before: number): { count: number; bytes: number };
  /** Removes all of `name`'s frames; returns how many. */
  clear(name: string): { count: number };
  /** Every name with frames waiting. */
  names(): QueuedName[];
  /** Releases the store. */
  close(): void;
  /**
   * `name`'s frames as the store has them now, for a store that other processes add to (a
   * fleet's shared stream): {@linkcode RelayQueue.resync} reads it.
   */
  stat?(name: string): QueuedName | undefined;
  /**
   * Forgets `name`'s frames in this process while they stay stored (another relay took the
   * name over and drains them); a store without it clears them.
   */
  evict?(name: string): void;
}

/** Bounds of a {@linkcode RelayQueue}. */
export interface RelayQueueOptions {
  /** Where frames live. Default a new {@linkcode MemoryRelayQueueStore}. */
  store?: RelayQueueStore;
  /** Frames waiting per name. Default 1,000. */
  maxPerName?: number;
  /** Bytes waiting per name. Default 4 MiB. */
  maxBytesPerName?: number;
  /** Frames waiting in all. Default 100,000. */
  maxTotal?: number;
  /** Bytes waiting in all. Default 256 MiB. */
  maxTotalBytes?: number;
  /** How long a frame may wait, in ms; older ones expire. Default 3,600,000 (1 hour). */
  maxAge?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Why a frame was not queued. */
export type QueueRefusal = "queue-full" | "queue-limit" | "frame-too-large";

const DEFAULTS = {
  maxPerName: 1000,
  maxBytesPerName: 4 * 1024 * 1024,
  maxTotal: 100_000,
  maxTotalBytes: 256 * 1024 * 1024,
  maxAge: 3_600_000,
};

/**
 * Bounded per-name queues over a {@linkcode RelayQueueStore}.
 *
 * @example Frames wait for their name and come back in order
 * ```ts
 * import assert from "node:assert/strict";
 * import { RelayQueue } from "@sealroute/sealroute/routing";
 *
 * const queue = new RelayQueue({ maxPerName: 2 });
 * assert.equal(queue.put("forward_to_d", "Idevice", new Uint8Array([1])), undefined);
 * assert.equal(queue.put("forward_to_d", "Idevice", new Uint8Array([2])), undefined);
 * assert.equal(queue.put("forward_to_d", "Idevice", new Uint8Array([3])), "queue-full");
 * assert.deepEqual(queue.take("forward_to_d", 10).map((f) => f.bytes[0]), [1, 2]);
 * ```
 */
export class RelayQueue {
  readonly #store: RelayQueueStore;
  readonly #o: typeof DEFAULTS;
  readonly #now: () => number;
  /**
   * Per name: identity, count and bytes (mirrors the store), and a time no frame of it is
   * older than, so the store is asked to expire frames only when some may have aged out (not
   * on every frame).
   */
  readonly #names = new Map<
    string,
    { identity: string; count: number; bytes: number; oldest: number }
  >();
  #count = 0;
  #bytes = 0;
  /** Frames that waited past `maxAge`, since this queue was made. */
  expired = 0;

  /** A queue over `options.store` (counting what it already holds) with the given bounds. */
  constructor(options: RelayQueueOptions = {}) {
    this.#store = options.store ?? new MemoryRelayQueueStore();
    this.#now = options.now ?? Date.now;
    this.#o = {
      maxPerName: positive("maxPerName", options.maxPerName, DEFAULTS.maxPerName),
      maxBytesPerName: positive(
        "maxBytesPerName",
        options.maxBytesPerName,
        DEFAULTS.maxBytesPerName,
      ),
      maxTotal: positive("maxTotal", options.maxTotal, DEFAULTS.maxTotal),
      maxTotalBytes: positive("maxTotalBytes", options.maxTotalBytes, DEFAULTS.maxTotalBytes),
      maxAge: positive("maxAge", options.maxAge, DEFAULTS.maxAge),
    };
    for (const n of this.#store.names()) {
      // Their age is unknown until the store is asked: the first look expires what is old.
      this.#names.set(n.name, { identity: n.identity, count: n.count, bytes: n.bytes, oldest: 0 });
      this.#count += n.count;
      this.#bytes += n.bytes;
    }
  }

  /** How long a frame may wait, in ms. */
  get maxAge(): number {
    return this.#o.maxAge;
  }

  /** Frames waiting in all. */
  get count(): number {
    return this.#count;
  }

  /** Bytes waiting in all. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The names with frames waiting and the identity each is held for. */
  names(): { name: string; identity: string; count: number }[] {
    return [...this.#names].map(([name, n]) => ({ name, identity: n.identity, count: n.count }));
  }

  /** Frames waiting for `name`. */
  size(name: string): number {
    this.#expire(name);
    return this.#names.get(name)?.count ?? 0;
  }

  /** The identity `name`'s frames are held for, if any wait. */
  holder(name: string): string | undefined {
    this.#expire(name);
    return this.#names.get(name)?.identity;
  }

  /**
   * Queues `bytes` for `name`, held for `identity`; returns why not when a bound refuses
   * it (`frame-too-large`: larger than a name's byte bound; `queue-full`: the name's queue is
   * full; `queue-limit`: the relay's total is). A name's frames are held for one identity:
   * a frame for another identity clears the older ones first (they could never be drained).
   */
  put(name: string, identity: string, bytes: Uint8Array): QueueRefusal | undefined {
    this.#expire(name);
    const o = this.#o;
    if (bytes.length > o.maxBytesPerName) return "frame-too-large";
    const entry = this.#names.get(name);
    if (entry && entry.identity !== identity) this.drop(name);
    const current = this.#names.get(name);
    if (
      current && (current.count >= o.maxPerName || current.bytes + bytes.length > o.maxBytesPerName)
    ) {
      return "queue-full";
    }
    if (this.#count >= o.maxTotal || this.#bytes + bytes.length > o.maxTotalBytes) {
      return "queue-limit";
    }
    const at = this.#now();
    this.#store.append(name, identity, { bytes, at });
    const n = current ?? { identity, count: 0, bytes: 0, oldest: at };
    n.count++;
    n.bytes += bytes.length;
    this.#names.set(name, n);
    this.#count++;
    this.#bytes += bytes.length;
    return undefined;
  }

  /** Removes and returns up to `max` of `name`'s oldest frames (unexpired), oldest first. */
  take(name: string, max: number): QueuedFrame[] {
    this.#expire(name);
    const n = this.#names.get(name);
    if (!n) return [];
    const frames = this.#store.shift(name, max);
    // What is left is no older than the newest frame taken.
    if (frames.length) n.oldest = Math.max(n.oldest, frames.at(-1)!.at);
    this.#forget(name, n, frames.length, frames.reduce((sum, f) => sum + f.bytes.length, 0));
    return frames;
  }

  /** Drops every frame waiting for `name`; returns how many. */
  drop(name: string): number {
    const n = this.#names.get(name);
    if (!n) return 0;
    const removed = this.#store.clear(name).count;
    this.#forget(name, n, n.count, n.bytes);
    return removed;
  }

  /**
   * Counts `name`'s frames again from the store, after something other than this queue
   * changed them (a fleet relay loaded the name's frames from the shared stream).
   */
  resync(name: string): void {
    const old = this.#names.get(name);
    if (old) this.#forget(name, old, old.count, old.bytes);
    const n = this.#store.stat?.(name);
    if (!n || n.count === 0) return;
    this.#names.set(name, { identity: n.identity, count: n.count, bytes: n.bytes, oldest: 0 });
    this.#count += n.count;
    this.#bytes += n.bytes;
  }

  /**
   * Lets go of `name`'s frames here without dropping them where they are stored, when the
   * store keeps them for another process (see {@linkcode RelayQueueStore.evict}); otherwise
   * the same as {@linkcode drop}.
   */
  release(name: string): void {
    const n = this.#names.get(name);
    if (!this.#store.evict) {
      this.drop(name);
      return;
    }
    this.#store.evict(name);
    if (n) this.#forget(name, n, n.count, n.bytes);
  }

  /** Releases the store. */
  close(): void {
    this.#store.close();
  }

  #expire(name: string): void {
    const n = this.#names.get(name);
    const before = this.#now() - this.#o.maxAge;
    if (!n || n.oldest >= before) return;
    const gone = this.#store.expire(name, before);
    n.oldest = before; // what is left was accepted at `before` or later
    if (gone.count === 0) return;
    this.expired += gone.count;
    this.#forget(name, n, gone.count, gone.bytes);
  }

  #forget(name: string, n: { count: number; bytes: number }, count: number, bytes: number): void {
    n.count -= count;
    n.bytes -= bytes;
    this.#count -= count;
    this.#bytes -= bytes;
    if (n.count <= 0) this.#names.delete(name);
  }
}

/**
 * Queued frames in memory: lost when the process ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryRelayQueueStore } from "@sealroute/sealroute/routing";
 * const store = new MemoryRelayQueueStore();
 * store.append("n", "I1", { bytes: new Uint8Array([7]), at: 0 });
 * assert.equal(store.shift("n", 5)[0]!.bytes[0], 7);
 * ```
 */
export class MemoryRelayQueueStore implements RelayQueueStore {
  readonly #queues = new Map<string, { identity: string; frames: QueuedFrame[] }>();

  append(name: string, identity: string, frame: QueuedFrame): void {
    const q = this.#queues.get(name);
    if (q && q.identity === identity) q.frames.push(frame);
    else this.#queues.set(name, { identity, frames: [frame] });
  }

  shift(name: string, max: number): QueuedFrame[] {
    const q = this.#queues.get(name);
    if (!q) return [];
    const out = q.frames.splice(0, max);
    if (q.frames.length === 0) this.#queues.delete(name);
    return out;
  }

  expire(name: string, before: number): { count: number; bytes: number } {
    const q = this.#queues.get(name);
    if (!q) return { count: 0, bytes: 0 };
    let i = 0;
    let bytes = 0;
    while (i < q.frames.length && q.frames[i]!.at < before) bytes += q.frames[i++]!.bytes.length;
    q.frames.splice(0, i);
    if (q.frames.length === 0) this.#queues.delete(name);
    return { count: i, bytes };
  }

  clear(name: string): { count: number } {
    const count = this.#queues.get(name)?.frames.length ?? 0;
    this.#queues.delete(name);
    return { count };
  }

  names(): QueuedName[] {
    return [...this.#queues].map(([name, q]) => ({
      name,
      identity: q.identity,
      count: q.frames.length,
      bytes: q.frames.reduce((sum, f) => sum + f.bytes.length, 0),
    }));
  }

  close(): void {
    this.#queues.clear();
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return v;
}
