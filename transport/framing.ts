import { TransportError } from "../errors.ts";

/** Ockam's `MAX_MESSAGE_SIZE`: 16 MiB (OCKAM_WIRE §2.1). */
export const DEFAULT_MAX_FRAME_SIZE: number = 16 * 1024 * 1024;

/** First allocation for a frame body split across chunks; it doubles as bytes arrive. */
const INITIAL_BODY = 64 * 1024;

/** Options for the frame codecs. */
export interface FramingOptions {
  /** Largest body accepted or sent, in bytes. Default {@linkcode DEFAULT_MAX_FRAME_SIZE}. */
  maxFrameSize?: number;
}

/**
 * Splits a byte stream into `u32` big-endian length-prefixed frames, chunk by chunk.
 *
 * Frames lying whole inside one chunk are returned as views of it; frames split across
 * chunks are assembled into a buffer of their own. That buffer grows geometrically as the
 * body's bytes arrive (starting at 64 KiB or what the chunk holds, doubling, never past the
 * announced length, which is checked against the maximum first; a bare header allocates
 * nothing), so a length field alone cannot make the decoder allocate much: memory held stays
 * within twice the bytes received, or 64 KiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoder } from "@sealroute/sealroute/transport";
 *
 * const decoder = new FrameDecoder();
 * assert(decoder.push(new Uint8Array([0, 0, 0, 2, 7])).length === 0);
 * const frames = decoder.push(new Uint8Array([8, 0, 0, 0, 0]));
 * assert(frames.length === 2 && frames[0]!.join() === "7,8" && frames[1]!.length === 0);
 * decoder.finish();
 * ```
 */
export class FrameDecoder {
  readonly #max: number;
  readonly #header = new Uint8Array(4);
  #headerFilled = 0;
  #body: Uint8Array | undefined;
  #bodyLength = 0;
  #bodyFilled = 0;
  #frames = 0;

  /**
   * Creates a decoder.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const decoder = new FrameDecoder({ maxFrameSize: 1024 });
   * assert(decoder.buffered === 0);
   * ```
   */
  constructor(options: FramingOptions = {}) {
    this.#max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /**
   * Bytes held of an incomplete frame (header included).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const decoder = new FrameDecoder();
   * decoder.push(new Uint8Array([0, 0]));
   * assert(decoder.buffered === 2);
   * ```
   */
  get buffered(): number {
    return this.#headerFilled + this.#bodyFilled;
  }

  /**
   * Bytes allocated for the incomplete frame's body (0 when none): at most twice what
   * arrived of it, or 64 KiB, and never more than its announced length.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const decoder = new FrameDecoder();
   * decoder.push(new Uint8Array([0, 0xff, 0, 0, 1])); // announces 16 MiB - 64 KiB, sends 1 byte
   * assert(decoder.reserved === 64 * 1024);
   * ```
   */
  get reserved(): number {
    return this.#body?.length ?? 0;
  }

  /**
   * Frames completed so far (a counter, for callers timing each frame).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const decoder = new FrameDecoder();
   * decoder.push(new Uint8Array([0, 0, 0, 0, 0, 0]));
   * assert(decoder.frames === 1 && decoder.buffered === 2);
   * ```
   */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Feeds a chunk; returns the frames it completes.
   *
   * @throws {TransportError} code `frame-too-large` when a length exceeds the maximum.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const frames = new FrameDecoder().push(new Uint8Array([0, 0, 0, 1, 42]));
   * assert(frames[0]![0] === 42);
   * ```
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#body === undefined) {
        let length: number;
        if (this.#headerFilled === 0 && chunk.length - at > 4) {
          length = ((chunk[at]! << 24) | (chunk[at + 1]! << 16) | (chunk[at + 2]! << 8) |
            chunk[at + 3]!) >>> 0;
          at += 4;
        } else {
          while (this.#headerFilled < 4 && at < chunk.length) {
            this.#header[this.#headerFilled++] = chunk[at++]!;
          }
          if (this.#headerFilled < 4) break;
          const h = this.#header;
          length = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
          if (length > this.#max) {
            throw new TransportError(
              "frame-too-large",
              `expected a frame of at most ${this.#max} bytes, got ${length}`,
            );
          }
          // A header with no body byte yet stays held (4 bytes): nothing is allocated
          // before the body starts to arrive.
          if (length > 0 && at === chunk.length) break;
          this.#headerFilled = 0;
        }
        if (length > this.#max) {
          throw new TransportError(
            "frame-too-large",
            `expected a frame of at most ${this.#max} bytes, got ${length}`,
          );
        }
        if (chunk.length - at >= length) {
          out.push(chunk.subarray(at, at + length));
          this.#frames++;
          at += length;
          continue;
        }
        // Only what arrived is paid for: a header announcing 16 MiB costs 64 KiB.
        this.#body = new Uint8Array(Math.min(length, Math.max(INITIAL_BODY, chunk.length - at)));
        this.#bodyLength = length;
        this.#bodyFilled = 0;
      }
      const n = Math.min(this.#bodyLength - this.#bodyFilled, chunk.length - at);
      if (this.#bodyFilled + n > this.#body.length) {
        const grown = new Uint8Array(
          Math.min(this.#bodyLength, Math.max(this.#body.length * 2, this.#bodyFilled + n)),
        );
        grown.set(this.#body.subarray(0, this.#bodyFilled));
        this.#body = grown;
      }
      const body = this.#body;
      body.set(chunk.subarray(at, at + n), this.#bodyFilled);
      this.#bodyFilled += n;
      at += n;
      if (this.#bodyFilled === this.#bodyLength) {
        // Growth stops at the announced length, so the buffer is exactly the frame.
        out.push(body);
        this.#frames++;
        this.#body = undefined;
        this.#bodyFilled = 0;
      }
    }
    return out;
  }

  /**
   * Checks that the stream ended on a frame boundary.
   *
   * @throws {TransportError} code `truncated-frame` when a frame was cut off.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FrameDecoder } from "@sealroute/sealroute/transport";
   * const decoder = new FrameDecoder();
   * decoder.push(new Uint8Array([0, 0, 0, 9, 1]));
   * let code = "";
   * try { decoder.finish(); } catch (e) { code = (e as { code: string }).code; }
   * assert(code === "truncated-frame");
   * ```
   */
  finish(): void {
    if (this.buffered > 0 || this.#body !== undefined) {
      throw new TransportError(
        "truncated-frame",
        `the stream ended inside a frame (${this.buffered} bytes held)`,
      );
    }
  }
}

/**
 * A `TransformStream` from bytes to frames (u32 big-endian length prefix); an oversized
 * or truncated frame errors the stream with a `TransportError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoderStream } from "@sealroute/sealroute/transport";
 *
 * const frames = ReadableStream.from([new Uint8Array([0, 0, 0, 1, 5, 0]), new Uint8Array([0, 0, 1, 6])])
 *   .pipeThrough(new FrameDecoderStream());
 * const got: number[] = [];
 * for await (const frame of frames) got.push(frame[0]!);
 * assert(got.join() === "5,6");
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Uint8Array> {
  /**
   * Creates the stream.
   *
   * @example
   * ```ts
   * import { FrameDecoderStream } from "@sealroute/sealroute/transport";
   * const stream = new FrameDecoderStream({ maxFrameSize: 1024 });
   * await stream.writable.close();
   * ```
   */
  constructor(options: FramingOptions = {}) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        for (const frame of decoder.push(chunk)) controller.enqueue(frame);
      },
      flush() {
        decoder.finish();
      },
    });
  }
}

/**
 * Length-prefixes bodies into one chunk (a coalesced write).
 *
 * @throws {TransportError} code `frame-too-large` for a body over the maximum.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrames } from "@sealroute/sealroute/transport";
 * const chunk = encodeFrames([new Uint8Array([1]), new Uint8Array([2, 3])]);
 * assert(chunk.join() === "0,0,0,1,1,0,0,0,2,2,3");
 * ```
 */
export function encodeFrames(
  bodies: readonly Uint8Array[],
  options: FramingOptions = {},
): Uint8Array {
  const max = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  let total = 0;
  for (const body of bodies) {
    if (body.length > max) {
      throw new TransportError(
        "frame-too-large",
        `expected a frame of at most ${max} bytes, got ${body.length}`,
      );
    }
    total += 4 + body.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const body of bodies) {
    view.setUint32(at, body.length);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  return out;
}

/**
 * A `TransformStream` from bodies to length-prefixed bytes. Writing an array of bodies
 * produces one coalesced chunk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoderStream, FrameEncoderStream } from "@sealroute/sealroute/transport";
 *
 * const out = ReadableStream.from<Uint8Array | Uint8Array[]>([new Uint8Array([1]), [new Uint8Array([2]), new Uint8Array([3])]])
 *   .pipeThrough(new FrameEncoderStream())
 *   .pipeThrough(new FrameDecoderStream());
 * const got: number[] = [];
 * for await (const frame of out) got.push(frame[0]!);
 * assert(got.join() === "1,2,3");
 * ```
 */
export class FrameEncoderStream
  extends TransformStream<Uint8Array | readonly Uint8Array[], Uint8Array> {
  /**
   * Creates the stream.
   *
   * @example
   * ```ts
   * import { FrameEncoderStream } from "@sealroute/sealroute/transport";
   * const stream = new FrameEncoderStream({ maxFrameSize: 1024 });
   * await stream.writable.close();
   * ```
   */
  constructor(options: FramingOptions = {}) {
    super({
      transform(chunk, controller) {
        controller.enqueue(encodeFrames(chunk instanceof Uint8Array ? [chunk] : chunk, options));
      },
    });
  }
}

/** Default time from a connection's start to the peer's first byte (its protocol version), in ms. */
export const DEFAULT_FIRST_BYTE_TIMEOUT = 10_000;
/** Default time a started frame may wait for the rest of its bytes, in ms. */
export const DEFAULT_FRAME_TIMEOUT = 30_000;
/** Default time with nothing received, between frames, after which a connection closes, in ms. */
export const DEFAULT_IDLE_TIMEOUT = 300_000;

/**
 * Read timeouts of a framed byte stream, in milliseconds; 0 disables one. Each expiry closes
 * the connection with a `TransportError` whose code names it. Only time spent waiting for
 * the peer counts: while the reader is paused (a full mailbox), the clocks stop.
 */
export interface ReadTimeoutOptions {
  /**
   * From the connection's start until the peer's first byte (TCP: the protocol version
   * byte), code `first-byte-timeout`. Stops connections that open and stay silent
   * (half-open floods). Default {@linkcode DEFAULT_FIRST_BYTE_TIMEOUT} (10 s).
   */
  firstByteTimeout?: number;
  /**
   * From a frame's first byte until its last, code `frame-timeout`. Stops peers that trickle
   * bytes and never finish a frame (slowloris). A maximum-size frame (16 MiB) needs about
   * 560 KB/s to arrive within the default; raise it for slow links with large frames.
   * Default {@linkcode DEFAULT_FRAME_TIMEOUT} (30 s).
   */
  frameTimeout?: number;
  /**
   * Between frames with nothing received at all, code `idle-timeout`. Sealroute peers send a
   * heartbeat every few seconds, so only peers that never do (and leaked half-open links)
   * reach it. Default {@linkcode DEFAULT_IDLE_TIMEOUT} (5 minutes).
   */
  idleTimeout?: number;
}

/** A BYOB read starts with this buffer; a read that fills it switches to the large one. */
const SMALL_READ = 4 * 1024;
/** Buffer of reads while data keeps coming; dropped once a read returns little. */
const LARGE_READ = 256 * 1024;

/**
 * Internal: reads a connection's chunks with the {@linkcode ReadTimeoutOptions} applied, from
 * a byte stream into a buffer sized to the traffic (4 KiB while idle, so an idle connection
 * pins little; 256 KiB while data keeps coming) or from any other stream as it comes. A
 * chunk from a byte stream is a view of a buffer the next read reuses.
 */
export class ChunkReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  readonly #first: number;
  readonly #frame: number;
  readonly #idle: number;
  readonly #peer: string;
  readonly #start = Date.now();
  #small: ArrayBuffer | undefined;
  #large: ArrayBuffer | undefined;
  #useLarge = false;
  #partialAfter = -1;
  #partialWaited = 0;

  /** Reads from `reader`; `peer` labels error messages. */
  constructor(
    reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader,
    options: ReadTimeoutOptions & { peer: string },
  ) {
    this.#reader = reader;
    this.#first = options.firstByteTimeout ?? DEFAULT_FIRST_BYTE_TIMEOUT;
    this.#frame = options.frameTimeout ?? DEFAULT_FRAME_TIMEOUT;
    this.#idle = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#peer = options.peer;
  }

  /**
   * The next chunk. Pass `undefined` until the peer's first byte was seen, then the decoder
   * the chunks feed, whose state tells which timeout applies.
   *
   * @throws {TransportError} code `first-byte-timeout`, `frame-timeout` or `idle-timeout`.
   */
  async read(decoder: FrameDecoder | undefined): Promise<ReadableStreamReadResult<Uint8Array>> {
    const now = Date.now();
    let limit: number;
    let partial = false;
    if (decoder === undefined) {
      limit = this.#first > 0 ? Math.max(0, this.#start + this.#first - now) : 0;
      if (this.#first > 0 && limit === 0) throw this.#expired("first-byte-timeout");
    } else if (decoder.buffered > 0) {
      partial = true;
      // The same frame is still incomplete as long as no frame completed since.
      if (decoder.frames !== this.#partialAfter) {
        this.#partialAfter = decoder.frames;
        this.#partialWaited = 0;
      }
      limit = this.#frame > 0 ? Math.max(0, this.#frame - this.#partialWaited) : 0;
      if (this.#frame > 0 && limit === 0) throw this.#expired("frame-timeout", decoder);
    } else {
      this.#partialAfter = -1;
      limit = this.#idle;
    }
    const read = this.#next();
    if (limit === 0) return await read;
    // A read abandoned on timeout settles when the connection cancels the reader.
    read.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        read,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(
              this.#expired(
                decoder === undefined
                  ? "first-byte-timeout"
                  : partial
                  ? "frame-timeout"
                  : "idle-timeout",
                decoder,
              ),
            );
          }, limit);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (partial) this.#partialWaited += Date.now() - now;
    }
  }

  #next(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (!(this.#reader instanceof ReadableStreamBYOBReader)) return this.#reader.read();
    const large = this.#useLarge;
    const size = large ? LARGE_READ : SMALL_READ;
    const buffer = (large ? this.#large : this.#small) ?? new ArrayBuffer(size);
    return this.#reader.read(new Uint8Array(buffer, 0, size)).then((result) => {
      const value = result.value;
      if (value) {
        // BYOB reads transfer the buffer: keep the one handed back for the next read.
        if (large) {
          this.#large = value.buffer as ArrayBuffer;
          if (value.length < SMALL_READ) {
            this.#useLarge = false;
            this.#large = undefined;
          }
        } else {
          this.#small = value.buffer as ArrayBuffer;
          if (value.length === size) this.#useLarge = true;
        }
      }
      return result;
    });
  }

  #expired(code: string, decoder?: FrameDecoder): TransportError {
    const message = code === "first-byte-timeout"
      ? `no byte from ${this.#peer} within ${this.#first} ms of connecting`
      : code === "frame-timeout"
      ? `a frame from ${this.#peer} stayed incomplete for ${this.#frame} ms (${decoder?.buffered} bytes held)`
      : `nothing received from ${this.#peer} for ${this.#idle} ms`;
    return new TransportError(code, message);
  }
}
