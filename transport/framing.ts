import { TransportError } from "../errors.ts";

/** Ockam's `MAX_MESSAGE_SIZE`: 16 MiB (OCKAM_WIRE §2.1). */
export const DEFAULT_MAX_FRAME_SIZE: number = 16 * 1024 * 1024;

/** Options for the frame codecs. */
export interface FramingOptions {
  /** Largest body accepted or sent, in bytes. Default {@linkcode DEFAULT_MAX_FRAME_SIZE}. */
  maxFrameSize?: number;
}

/**
 * Splits a byte stream into `u32` big-endian length-prefixed frames, chunk by chunk.
 *
 * Frames lying whole inside one chunk are returned as views of it; frames split across
 * chunks are assembled into a buffer allocated once their length is known (and checked
 * against the maximum, so a length field cannot make it allocate more than allowed).
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
  #bodyFilled = 0;

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
        if (this.#headerFilled === 0 && chunk.length - at >= 4) {
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
          at += length;
          continue;
        }
        this.#body = new Uint8Array(length);
        this.#bodyFilled = 0;
      }
      const body = this.#body;
      const n = Math.min(body.length - this.#bodyFilled, chunk.length - at);
      body.set(chunk.subarray(at, at + n), this.#bodyFilled);
      this.#bodyFilled += n;
      at += n;
      if (this.#bodyFilled === body.length) {
        out.push(body);
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
