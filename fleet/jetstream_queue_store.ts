/**
 * A relay's store-and-forward queue kept in a JetStream stream, so frames queued for an
 * offline device survive the death of the relay that took them and can be drained at any
 * relay of the fleet.
 *
 * @module
 */
import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { TransportError } from "../errors.ts";
import type { QueuedFrame, QueuedName, QueueRefusal, RelayQueueStore } from "../routing/mod.ts";

/** Options for {@linkcode JetStreamRelayQueueStore.open}. */
export interface JetStreamQueueOptions {
  /** The stream's name. Default `SEALROUTE_QUEUE`. */
  stream?: string;
  /** Subject prefix; a name's frames go to `<prefix>.<base64url(name)>`. Default `sealroute.q`. */
  prefix?: string;
  /** Replicas of the stream (a cluster of 3 keeps it through one node's death). Default 1. */
  replicas?: number;
  /** Frames per name (the stream's `max_msgs_per_subject`). Default 1,000. */
  maxPerName?: number;
  /** Frames in all. Default 100,000. */
  maxTotal?: number;
  /** Bytes in all. Default 256 MiB. */
  maxTotalBytes?: number;
  /** Largest frame. Default 4 MiB. */
  maxFrameBytes?: number;
  /** How long a frame may wait, in ms. Default 3,600,000 (1 hour). */
  maxAge?: number;
  /** Told when a write to the stream failed (the frame stays in this relay's memory). */
  onError?: (error: unknown) => void;
}

interface Frame extends QueuedFrame {
  /** The stream sequence, once the stream acknowledged it. */
  seq?: number;
  /** Taken (or expired) before the stream acknowledged it: delete it on the ack. */
  gone?: boolean;
}

interface Name {
  identity: string;
  frames: Frame[];
  bytes: number;
  /** Every stream sequence seen for this name (so a reload adds only new frames). */
  seqs: Set<number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** `[u16 identity length][identity][f64 accepted at][frame]`. */
const HEAD = 2 + 8;
const MAX_IDENTITY_BYTES = 1024;

/**
 * Encodes a stored record: who the frame is held for, when it was accepted, the frame.
 * @internal
 */
export function encodeRecord(identity: string, at: number, bytes: Uint8Array): Uint8Array {
  const id = encoder.encode(identity);
  if (id.length > MAX_IDENTITY_BYTES) throw new RangeError("identity too long");
  const out = new Uint8Array(HEAD + id.length + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, id.length);
  out.set(id, 2);
  view.setFloat64(2 + id.length, at);
  out.set(bytes, HEAD + id.length);
  return out;
}

/**
 * Decodes a stored record; `undefined` for one that does not parse (the stream is shared by
 * the fleet: what is in it is checked, not trusted).
 * @internal
 */
export function decodeRecord(
  data: Uint8Array,
): { identity: string; at: number; bytes: Uint8Array } | undefined {
  if (data.length < HEAD) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getUint16(0);
  if (length > MAX_IDENTITY_BYTES || data.length < HEAD + length) return undefined;
  let identity: string;
  try {
    identity = decoder.decode(data.subarray(2, 2 + length));
  } catch {
    return undefined;
  }
  const at = view.getFloat64(2 + length);
  if (!Number.isFinite(at)) return undefined;
  return { identity, at, bytes: data.slice(HEAD + length) };
}

function base64url(text: string): string {
  let binary = "";
  for (const b of encoder.encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Queued frames in a JetStream stream, one subject per name, with this relay's view of them
 * in memory (a {@linkcode RelayQueueStore} answers synchronously; writes to the stream follow
 * at once, asynchronously). What the stream has acknowledged survives this process;
 * {@linkcode load} brings a name's frames queued anywhere in the fleet into this relay when it
 * becomes the name's holder. Frames taken are deleted from the stream.
 *
 * What it trades: a frame this relay accepted but the stream had not acknowledged when the
 * relay died is lost from the queue (reliable delivery's sender resends it: it was never
 * acknowledged end to end). The stream's own limits (per name, in all, age) bound what other
 * relays {@linkcode offer} while the holder's relay is unreachable.
 */
export class JetStreamRelayQueueStore implements RelayQueueStore {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #maxPerName: number;
  readonly #onError: (error: unknown) => void;
  readonly #names = new Map<string, Name>();
  readonly #pending = new Set<Promise<unknown>>();

  private constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    o: { stream: string; prefix: string; maxPerName: number; onError: (e: unknown) => void },
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = o.stream;
    this.#prefix = o.prefix;
    this.#maxPerName = o.maxPerName;
    this.#onError = o.onError;
  }

  /**
   * Opens the store, creating the stream with the limits `options` say when it is missing (an
   * existing stream keeps the limits the fleet gave it).
   *
   * @throws {TransportError} code `fleet-unavailable` when JetStream does not answer.
   * @example
   * ```ts ignore
   * import { jetstream, jetstreamManager } from "@nats-io/jetstream";
   * import { JetStreamRelayQueueStore } from "@sealroute/sealroute/fleet";
   * const store = await JetStreamRelayQueueStore.open(js, await js.jetstreamManager());
   * ```
   */
  static async open(
    js: JetStreamClient,
    jsm: JetStreamManager,
    options: JetStreamQueueOptions = {},
  ): Promise<JetStreamRelayQueueStore> {
    const stream = options.stream ?? "SEALROUTE_QUEUE";
    const prefix = options.prefix ?? "sealroute.q";
    let maxPerName = options.maxPerName ?? 1000;
    const config: Partial<StreamConfig> & { name: string } = {
      name: stream,
      subjects: [`${prefix}.>`],
      max_msgs_per_subject: maxPerName,
      max_msgs: options.maxTotal ?? 100_000,
      max_bytes: options.maxTotalBytes ?? 256 * 1024 * 1024,
      max_msg_size: (options.maxFrameBytes ?? 4 * 1024 * 1024) + HEAD + MAX_IDENTITY_BYTES,
      max_age: (options.maxAge ?? 3_600_000) * 1_000_000,
      num_replicas: options.replicas ?? 1,
      discard: DiscardPolicy.New,
      discard_new_per_subject: true,
      allow_direct: true,
    };
    try {
      try {
        // The stream is the fleet's: its limits are what the relay that made it set (one
        // relay opening it with smaller ones must not shrink what others queued against).
        const info = await jsm.streams.info(stream);
        maxPerName = info.config.max_msgs_per_subject > 0
          ? info.config.max_msgs_per_subject
          : maxPerName;
      } catch (error) {
        if (!/not found/i.test(String(error))) throw error;
        await jsm.streams.add(config);
      }
    } catch (error) {
      throw new TransportError("fleet-unavailable", `JetStream stream ${stream} not ready`, {
        cause: error,
      });
    }
    return new JetStreamRelayQueueStore(js, jsm, {
      stream,
      prefix,
      maxPerName,
      onError: options.onError ?? (() => {}),
    });
  }

  /** Frames per name the stream keeps (its `max_msgs_per_subject`, as the fleet set it). */
  get maxPerName(): number {
    return this.#maxPerName;
  }

  /** The subject `name`'s frames are stored on. */
  subject(name: string): string {
    return `${this.#prefix}.${base64url(name)}`;
  }

  append(name: string, identity: string, frame: QueuedFrame): void {
    let n = this.#names.get(name);
    if (!n || n.identity !== identity) {
      n = { identity, frames: [], bytes: 0, seqs: new Set() };
      this.#names.set(name, n);
    }
    const kept: Frame = { bytes: frame.bytes, at: frame.at };
    n.frames.push(kept);
    n.bytes += frame.bytes.length;
    const record = encodeRecord(identity, frame.at, frame.bytes);
    this.#track(
      this.#js.publish(this.subject(name), record).then((ack) => {
        kept.seq = ack.seq;
        n.seqs.add(ack.seq);
        if (kept.gone) this.#delete(ack.seq);
      }),
    );
  }

  shift(name: string, max: number): QueuedFrame[] {
    const n = this.#names.get(name);
    if (!n) return [];
    const taken = n.frames.splice(0, max);
    for (const frame of taken) this.#remove(n, frame);
    if (n.frames.length === 0) this.#names.delete(name);
    return taken.map(({ bytes, at }) => ({ bytes, at }));
  }

  expire(name: string, before: number): { count: number; bytes: number } {
    const n = this.#names.get(name);
    if (!n) return { count: 0, bytes: 0 };
    let count = 0;
    let bytes = 0;
    n.frames = n.frames.filter((frame) => {
      if (frame.at >= before) return true;
      count++;
      bytes += frame.bytes.length;
      this.#remove(n, frame);
      return false;
    });
    if (n.frames.length === 0) this.#names.delete(name);
    return { count, bytes };
  }

  clear(name: string): { count: number } {
    const n = this.#names.get(name);
    this.#names.delete(name);
    this.#track(this.#jsm.streams.purge(this.#stream, { filter: this.subject(name) }));
    return { count: n?.frames.length ?? 0 };
  }

  /** Forgets `name`'s frames here without touching the stream (another relay holds it now). */
  evict(name: string): void {
    this.#names.delete(name);
  }

  stat(name: string): QueuedName | undefined {
    const n = this.#names.get(name);
    return n ? { name, identity: n.identity, count: n.frames.length, bytes: n.bytes } : undefined;
  }

  names(): QueuedName[] {
    return [...this.#names].map(([name, n]) => ({
      name,
      identity: n.identity,
      count: n.frames.length,
      bytes: n.bytes,
    }));
  }

  /**
   * Reads `name`'s frames from the stream (queued by any relay) into this relay, after what it
   * has already; frames held for another identity than `identity` are skipped. Resolves how
   * many were added.
   */
  async load(name: string, identity: string): Promise<number> {
    const subject = this.subject(name);
    let n = this.#names.get(name);
    if (n && n.identity !== identity) {
      this.#names.delete(name);
      n = undefined;
    }
    const found: Frame[] = [];
    let seq = 0;
    for (let i = 0; i < this.#maxPerName; i++) {
      const message = await this.#jsm.direct.getMessage(this.#stream, {
        seq: seq + 1,
        next_by_subj: subject,
      });
      if (!message || message.subject !== subject) break;
      seq = message.seq;
      if (n?.seqs.has(seq)) continue;
      const record = decodeRecord(message.data);
      if (!record || record.identity !== identity) continue;
      found.push({ bytes: record.bytes, at: record.at, seq });
    }
    if (found.length === 0) return 0;
    n = this.#names.get(name) ?? { identity, frames: [], bytes: 0, seqs: new Set() };
    this.#names.set(name, n);
    for (const frame of found) {
      n.seqs.add(frame.seq!);
      n.frames.push(frame);
      n.bytes += frame.bytes.length;
    }
    // The stream's order is the order frames were accepted fleet-wide.
    n.frames.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity));
    return found.length;
  }

  /**
   * Stores a frame for `name` straight in the stream, for a relay that is not the name's
   * holder and cannot reach the one that is. Resolves why the stream refused it, if it did.
   */
  async offer(
    name: string,
    identity: string,
    bytes: Uint8Array,
  ): Promise<QueueRefusal | undefined> {
    try {
      await this.#js.publish(this.subject(name), encodeRecord(identity, Date.now(), bytes));
      return undefined;
    } catch (error) {
      const text = String(error);
      if (/per subject/i.test(text)) return "queue-full";
      if (/maximum message size|message size exceeds/i.test(text)) return "frame-too-large";
      if (/maximum (messages|bytes)|resource limits|storage/i.test(text)) return "queue-limit";
      this.#onError(error);
      return "queue-limit";
    }
  }

  /** Resolves once every write to the stream started so far has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  close(): void {
    this.#names.clear();
  }

  #remove(n: Name, frame: Frame): void {
    n.bytes -= frame.bytes.length;
    if (frame.seq !== undefined) this.#delete(frame.seq);
    else frame.gone = true;
  }

  #delete(seq: number): void {
    this.#track(this.#jsm.streams.deleteMessage(this.#stream, seq, false));
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => this.#onError(error)).finally(() => {
      this.#pending.delete(tracked);
    });
    this.#pending.add(tracked);
  }
}
