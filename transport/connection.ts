// OCKAM_WIRE §2.1: Ockam's TCP protocol over any duplex byte stream.
import { RouteError, TransportError } from "../errors.ts";
import {
  Address,
  decodeTcpMessage,
  encodeTcpMessage,
  type Flow,
  type Node,
  Route,
  RoutedMessage,
  type WorkerContext,
} from "../routing/mod.ts";
import { encodeTcpBody, ownedBytes, tcpFrameSize, writeTcpFrame } from "../routing/tcp_codec.ts";
import type { Duplex } from "./duplex.ts";
import { linkFlow, type LinkFlowOptions } from "./link_flow.ts";
import { Liveness, type LivenessOptions } from "./liveness.ts";
import { wrongProtocol } from "./_sniff.ts";
import {
  ChunkReader,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrames,
  FrameDecoder,
  type ReadTimeoutOptions,
} from "./framing.ts";

/** `TcpProtocolVersion::V1`, the byte each side writes first. */
export const TCP_PROTOCOL_VERSION = 1;

/** A link to a peer node, attached to a local {@linkcode Node} through a sender worker. */
export interface Connection {
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Local address of the connection's sender worker: routes through the peer start here. */
  readonly address: Address;
  /** `[address]`, ready to be extended with addresses on the peer node. */
  readonly route: Route;
  /**
   * The flow messages read from this connection arrive on: they reach only workers that
   * consume it (or the listener flow it was spawned from). See `FlowControls`.
   */
  readonly flow: Flow;
  /**
   * Resolves (never rejects) once the connection is closed, with why: a `TransportError`
   * (`connection-closed`, `frame-too-large`, `bad-protocol-version`, `wrong-protocol` (the
   * peer answered in HTTP, TLS or SSH: a wrong port), `bad-message`, ...),
   * or the node's `RouteError` `closed`.
   */
  readonly closed: Promise<Error>;
  /** Closes the connection after writing what is queued; resolves once everything is released. */
  close(): Promise<void>;
}

/** Default time one write may take before the connection closes (`write-timeout`), in ms. */
export const DEFAULT_WRITE_TIMEOUT = 30_000;
/** Default bytes queued for writing above which a connection's sender worker waits. */
export const DEFAULT_MAX_WRITE_BUFFER = 1024 * 1024;

/**
 * Per-connection bounds of {@linkcode attachDuplex} (and the TCP listener and dialler): the
 * read timeouts of {@linkcode ReadTimeoutOptions} and the write side's. Each expiry closes
 * the connection with a `TransportError` of that code, logged as "connection lost".
 */
export interface ConnectionLimits extends ReadTimeoutOptions {
  /**
   * How long one write (at most 256 KiB: larger frames are written in pieces) may take, in
   * ms; 0 waits forever. A peer that stops reading fills the socket's buffers and then
   * stalls every write: past this the connection closes with `write-timeout`, so a peer
   * that never reads its replies cannot hold the sender (and what waits on it) for long.
   * Default {@linkcode DEFAULT_WRITE_TIMEOUT} (30 s, the dead-link bound).
   */
  writeTimeout?: number;
  /**
   * Bytes queued or being written above which the sender worker waits for the socket
   * (backpressure into its mailbox, which is bounded in bytes too). What one connection
   * buffers for writing stays within this plus one message. Default
   * {@linkcode DEFAULT_MAX_WRITE_BUFFER} (1 MiB).
   */
  maxWriteBuffer?: number;
}

/** Options for {@linkcode attachDuplex}. */
export interface AttachOptions extends LinkFlowOptions, LivenessOptions, ConnectionLimits {
  /** Largest frame body sent or accepted. Default 16 MiB (Ockam's `MAX_MESSAGE_SIZE`). */
  maxFrameSize?: number;
  /** A label for log lines (e.g. the peer's `host:port`). */
  peer?: string;
}

/** Ockam's heartbeat: a frame holding a message with empty routes and payload. */
const HEARTBEAT = encodeFrames([encodeTcpMessage(new RoutedMessage({ onwardRoute: [] }))]);
/** Frames at least this large are written alone instead of being copied into a batch. */
const LARGE_FRAME = 16 * 1024;
/** Upper bound of one coalesced write, and of one piece of a large frame's write. */
const BATCH_BYTES = 256 * 1024;
/** The smallest write batch small messages are encoded into. */
const MIN_BATCH = 1024;

/**
 * Attaches a duplex byte stream to `node` speaking Ockam's TCP protocol: a version byte
 * `0x01` each way, then `u32` big-endian length-prefixed CBOR frames.
 *
 * A sender worker at a random local address takes messages whose onward route starts
 * with it, pops itself and writes them (frames queued while a write is in flight go out
 * as one chunk). Frames read are decoded, get the sender worker's address pushed on the
 * front of their return route and are delivered to the node with backpressure (reads
 * pause while the target mailbox is full). Empty onward routes are heartbeats and are
 * dropped. A bad version byte, an oversized frame or an undecodable body closes the
 * connection with a `TransportError`; so does losing the stream, and so do the bounds of
 * {@linkcode ConnectionLimits}: no first byte within 10 s, a frame left incomplete for 30 s,
 * 5 minutes with nothing received, a write stalled for 30 s. What a connection buffers is
 * bounded both ways: reading, one partial frame (grown as its bytes arrive, at most
 * `maxFrameSize`) and one read buffer (4 KiB while idle, 256 KiB while data flows);
 * writing, `maxWriteBuffer` plus one message. The sender worker then
 * stops with that error as reason, which fails requests routed through it and removes
 * relays registered over it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { attachDuplex, memoryDuplexPair } from "@sealroute/sealroute/transport";
 *
 * await using client = new Node();
 * await using server = new Node();
 * const [a, b] = memoryDuplexPair();
 * const link = attachDuplex(client, a);
 * const incoming = attachDuplex(server, b);
 * startEcho(server, { consumes: [incoming.flow] });
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([42]), { timeout: 1000 });
 * assert(reply.payload[0] === 42);
 * await link.close();
 * ```
 */
export function attachDuplex(node: Node, duplex: Duplex, options: AttachOptions = {}): Connection {
  return new DuplexConnection(node, duplex, options);
}

class DuplexConnection implements Connection {
  readonly address: Address;
  readonly route: Route;
  readonly flow: Flow;
  readonly closed: Promise<Error>;
  readonly #node: Node;
  readonly #duplex: Duplex;
  readonly #max: number;
  readonly #peer: string;
  readonly #replyAddress: Address;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  #pending: Uint8Array[] = [new Uint8Array([TCP_PROTOCOL_VERSION])];
  #pendingBytes = 1;
  // The batch small messages are being encoded into, not yet in #pending.
  #batch: Uint8Array | undefined;
  #batchAt = 0;
  #batchSize = MIN_BATCH;
  #writing: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];
  #reason: Error | undefined;
  #resolveClosed!: (reason: Error) => void;
  #readLoop: Promise<void>;
  #tearingDown = false;
  readonly #liveness: Liveness;
  readonly #chunks: ChunkReader;
  readonly #writeTimeout: number;
  readonly #highWater: number;

  constructor(node: Node, duplex: Duplex, options: AttachOptions) {
    this.#node = node;
    this.#duplex = duplex;
    this.#max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.address = Address.random();
    this.#peer = options.peer ?? this.address.toString();
    this.route = new Route([this.address]);
    this.#replyAddress = options.replyAddress ?? this.address;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#writer = duplex.writable.getWriter();
    this.#reader = byobReader(duplex.readable) ?? duplex.readable.getReader();
    this.#chunks = new ChunkReader(this.#reader, { ...options, peer: this.#peer });
    this.#writeTimeout = options.writeTimeout ?? DEFAULT_WRITE_TIMEOUT;
    this.#highWater = options.maxWriteBuffer ?? DEFAULT_MAX_WRITE_BUFFER;
    node.startWorker(this.address, (ctx) => this.#send(ctx), {
      onStop: (reason) => this.#teardown(reason),
    });
    this.flow = linkFlow(node, this.address, { ...options, label: this.#peer });
    node.logger.info("connection opened", { peer: this.#peer, sender: this.address.toString() });
    this.#liveness = new Liveness(options, {
      beat: () => this.#queue(HEARTBEAT),
      dead: (error) => {
        node.logger.warn("connection dead", { peer: this.#peer, reason: error.message });
        void this.#fail(error);
      },
    });
    this.#flush();
    this.#readLoop = this.#read();
  }

  async close(): Promise<void> {
    // Messages already handed to the connection go out first (bounded: the peer may have
    // stopped reading), so a Close sent just before closing the link is not lost.
    if (!this.#tearingDown) await withTimeout(this.#node.drained(this.address), 1000);
    return await this.#fail(
      new TransportError("connection-closed", `connection to ${this.#peer} closed locally`),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops the sender worker with `reason`; its onStop tears the connection down. */
  async #fail(reason: Error): Promise<void> {
    this.#reason ??= reason;
    await this.#node.stopWorker(this.address, this.#reason);
    // If the worker was already gone (node closed), wait for the teardown in progress.
    await this.closed;
  }

  #send(ctx: WorkerContext): void | Promise<void> {
    const m = ctx.message;
    // A large payload is queued as a chunk of its own behind its frame's head instead of
    // being copied into the frame (the onward route loses this worker's own address).
    const apart = m.payload.length >= LARGE_FRAME && m.payload.buffer instanceof ArrayBuffer;
    if (!apart) {
      // A small message is encoded straight into the write batch.
      const frameSize = tcpFrameSize(m, 1);
      if (frameSize - 4 > this.#max) return this.#tooLarge(frameSize - 4);
      const batch = this.#room(frameSize);
      this.#batchAt = writeTcpFrame(batch, this.#batchAt, m, 1);
      this.#pendingBytes += frameSize;
      this.#liveness.sent();
      if (!this.#writing) this.#flush();
      if (this.#pendingBytes > this.#highWater) {
        return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
      }
      return;
    }
    const head = encodeTcpBody(m, { lengthPrefix: true, skipOnward: 1, payloadApart: true });
    const size = head.length - 4 + m.payload.length;
    if (size > this.#max) return this.#tooLarge(size);
    this.#queue(head);
    this.#queue(m.payload);
    if (this.#pendingBytes > this.#highWater) {
      return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
  }

  #tooLarge(size: number): void {
    // Ockam's sender refuses oversized messages; the connection stays up.
    this.#node.logger.warn("message larger than the maximum frame, dropped", {
      peer: this.#peer,
      size,
      max: this.#max,
    });
  }

  /**
   * The write batch with room for `size` more bytes at `#batchAt`: the open one, or a new
   * one (the open one, if any, queued first). A batch is never written into once queued
   * (a duplex may hand the very buffer to its reader). Its size follows the traffic: twice
   * the bytes the last write carried, within 1 KiB..256 KiB.
   */
  #room(size: number): Uint8Array {
    const open = this.#batch;
    if (open && open.length - this.#batchAt >= size) return open;
    this.#closeBatch();
    const batch = new Uint8Array(Math.max(size, this.#batchSize));
    this.#batch = batch;
    this.#batchAt = 0;
    return batch;
  }

  /** Queues the open batch's bytes, if any, behind what is pending. */
  #closeBatch(): void {
    const open = this.#batch;
    if (!open) return;
    this.#batch = undefined;
    if (this.#batchAt > 0) this.#pending.push(open.subarray(0, this.#batchAt));
  }

  /** Queues bytes for the writer (one coalesced write per turn). */
  #queue(bytes: Uint8Array): void {
    this.#closeBatch();
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.#liveness.sent();
    if (!this.#writing) this.#flush();
  }

  #flush(): void {
    this.#writing = (async () => {
      try {
        for (;;) {
          this.#closeBatch();
          if (this.#pending.length === 0) break;
          const batch = this.#pending;
          this.#pending = [];
          let bytes = 0;
          for (const part of batch) bytes += part.length;
          this.#batchSize = Math.min(BATCH_BYTES, Math.max(MIN_BATCH, 2 * bytes));
          // `#pendingBytes` counts bytes until written, so waiters resume only once the
          // socket took enough: queued plus in flight stays within the high-water mark.
          for (const chunk of coalesce(batch)) {
            await this.#write(chunk);
            this.#pendingBytes -= chunk.length;
            if (this.#pendingBytes <= this.#highWater && this.#drainWaiters.length > 0) {
              const waiters = this.#drainWaiters;
              this.#drainWaiters = [];
              for (const w of waiters) w();
            }
          }
        }
      } catch (error) {
        if (error instanceof TransportError && error.code === "write-timeout") {
          this.#node.logger.warn("connection lost", { peer: this.#peer, reason: error });
        }
        void this.#fail(
          error instanceof TransportError ? error : new TransportError(
            "write-failed",
            `writing to ${this.#peer} failed`,
            { cause: error },
          ),
        );
      } finally {
        this.#writing = undefined;
      }
    })();
  }

  /** Writes one chunk, in pieces of at most BATCH_BYTES, each within the write timeout. */
  async #write(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += BATCH_BYTES) {
      const piece = chunk.length <= BATCH_BYTES ? chunk : chunk.subarray(at, at + BATCH_BYTES);
      const write = this.#writer.write(piece);
      if (this.#writeTimeout <= 0) {
        await write;
        continue;
      }
      // A write abandoned on timeout settles when teardown aborts the writer.
      write.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          write,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() =>
              reject(
                new TransportError(
                  "write-timeout",
                  `a write to ${this.#peer} made no progress for ${this.#writeTimeout} ms`,
                ),
              ), this.#writeTimeout);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder({ maxFrameSize: this.#max });
    let versionSeen = false;
    let reason: Error;
    try {
      // With a byte stream the chunk reader reuses its buffers: decoded messages copy what
      // they keep and the frame decoder copies partial frames, so nothing aliases them after.
      for (;;) {
        const { value, done } = await this.#chunks.read(versionSeen ? decoder : undefined);
        if (done) {
          if (this.#tearingDown) return;
          decoder.finish();
          reason = new TransportError("connection-closed", `${this.#peer} closed the connection`);
          break;
        }
        this.#liveness.received();
        let chunk = value;
        if (!versionSeen) {
          if (chunk.length === 0) continue;
          if (chunk[0] !== TCP_PROTOCOL_VERSION) {
            // An HTTP (or TLS, SSH) server on this port answers in its own protocol.
            throw wrongProtocol(chunk, this.#peer) ?? new TransportError(
              "bad-protocol-version",
              `expected TCP protocol version ${TCP_PROTOCOL_VERSION} from ${this.#peer}, got ${
                chunk[0]
              }`,
            );
          }
          versionSeen = true;
          chunk = chunk.subarray(1);
        }
        for (const frame of decoder.push(chunk)) {
          let message: RoutedMessage;
          try {
            // A frame that is not a view of `chunk` was assembled by the decoder into a
            // buffer of its own: its payload may stay a view of it. A view of the read
            // buffer is copied once, as that buffer is reused by the next read.
            message = decodeTcpMessage(frame.buffer === chunk.buffer ? frame : ownedBytes(frame));
          } catch (error) {
            throw new TransportError("bad-message", `undecodable frame from ${this.#peer}`, {
              cause: error,
            });
          }
          if (message.onwardRoute.isEmpty) {
            this.#liveness.received(true);
            continue;
          }
          const routed = new RoutedMessage({
            onwardRoute: message.onwardRoute,
            returnRoute: message.returnRoute.prepend(this.#replyAddress),
            payload: message.payload,
          });
          // The frames of one read go to their workers in one loop, awaiting only a full
          // mailbox (or what else `deliver` must wait for).
          const how = { flow: this.flow };
          if (this.#node.tryDeliver(routed, how)) continue;
          try {
            await this.#node.deliver(routed, how);
          } catch (error) {
            if (this.#tearingDown) return;
            this.#node.logger.warn("incoming message dropped", {
              peer: this.#peer,
              onwardRoute: message.onwardRoute.toString(),
              error,
            });
          }
        }
      }
    } catch (error) {
      if (this.#tearingDown) return;
      reason = error instanceof TransportError
        ? error
        : new TransportError("read-failed", `reading from ${this.#peer} failed`, { cause: error });
    }
    this.#node.logger.warn("connection lost", { peer: this.#peer, reason });
    void this.#fail(reason);
  }

  async #teardown(reason: Error | undefined): Promise<void> {
    this.#tearingDown = true;
    this.#liveness.stop();
    const why = this.#reason ?? reason ??
      new TransportError("connection-closed", `connection to ${this.#peer} closed`);
    this.#reason = why;
    const graceful = why instanceof RouteError ||
      (why instanceof TransportError && why.code === "connection-closed");
    if (graceful) {
      // Write what is queued before closing (bounded: the peer may have stopped reading).
      await withTimeout(this.#drain(), 1000);
    }
    for (const w of this.#drainWaiters) w();
    this.#drainWaiters = [];
    try {
      await this.#reader.cancel();
    } catch {
      // the stream may already be errored
    }
    try {
      await this.#duplex.close();
    } catch {
      // already closed
    }
    try {
      await this.#writer.abort();
    } catch {
      // already closed
    }
    await this.#readLoop;
    await this.#writing;
    this.#node.logger.info("connection closed", { peer: this.#peer, reason: why.message });
    this.#resolveClosed(why);
  }

  async #drain(): Promise<void> {
    while (this.#writing) await this.#writing;
  }
}

function byobReader(readable: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return readable.getReader({ mode: "byob" });
  } catch {
    return undefined; // not a byte stream
  }
}

function* coalesce(frames: Uint8Array[]): Generator<Uint8Array> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < frames.length; i++) {
    const size = frames[i]!.length;
    if (size >= LARGE_FRAME || bytes + size > BATCH_BYTES) {
      if (i > start) yield concat(frames, start, i, bytes);
      start = i;
      bytes = 0;
      if (size >= LARGE_FRAME) {
        yield frames[i]!;
        start = i + 1;
        continue;
      }
    }
    bytes += size;
  }
  if (frames.length > start) yield concat(frames, start, frames.length, bytes);
}

function concat(frames: Uint8Array[], from: number, to: number, bytes: number): Uint8Array {
  if (to - from === 1) return frames[from]!;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (let i = from; i < to; i++) {
    out.set(frames[i]!, at);
    at += frames[i]!.length;
  }
  return out;
}

/** Internal: waits for `p`, or `ms` at most. */
export async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
