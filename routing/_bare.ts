// Internal BARE primitives (OCKAM_WIRE §0.2, Ockam `ockam_core/src/bare.rs`).
import { DecodeError } from "../errors.ts";

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Cursor over BARE bytes; every read checks bounds and throws DecodeError. */
export class BareReader {
  readonly bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    const b = this.bytes[this.offset];
    if (b === undefined) {
      throw new DecodeError("truncated", `expected a byte at offset ${this.offset}, input ended`);
    }
    this.offset++;
    return b;
  }

  /**
   * ULEB128 u64; at most 10 bytes and the 10th (shift 63) must be exactly 0x01, as in
   * `read_variable_length_integer`. Unlike Ockam (which accepts them), longer-than-needed
   * forms (a last byte 0x00 after a continuation byte) are refused: no BARE encoder
   * writes them (DECODING.md). Returned as a number: values above 2^53 lose precision,
   * which only matters for lengths that exceed any input anyway.
   */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0;; i++) {
      const byte = this.#varintByte(i);
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
  }

  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0;; i++) {
      const byte = this.#varintByte(i);
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  #varintByte(i: number): number {
    const byte = this.u8();
    if (i === 9 && byte !== 0x01) {
      throw new DecodeError(
        "varint-overflow",
        `expected 0x01 as the 10th varint byte, got 0x${byte.toString(16)}`,
      );
    }
    if (i > 0 && byte === 0) {
      throw new DecodeError("non-minimal-varint", "expected the shortest form of a varint");
    }
    return byte;
  }

  /** Skips `length` bytes. */
  skip(length: number): void {
    if (length > this.remaining) {
      throw new DecodeError(
        "truncated",
        `expected ${length} bytes of data, ${this.remaining} left`,
      );
    }
    this.offset += length;
  }

  /** `data`: varint length + bytes (a view into the input). */
  data(): Uint8Array {
    const length = this.varint();
    const start = this.offset;
    this.skip(length);
    return this.bytes.subarray(start, this.offset);
  }

  string(): string {
    const bytes = this.data();
    try {
      return strictDecoder.decode(bytes);
    } catch {
      throw new DecodeError("bad-utf8", "expected a UTF-8 string");
    }
  }

  end(): void {
    if (this.remaining !== 0) {
      throw new DecodeError(
        "trailing-bytes",
        `expected end of input, ${this.remaining} bytes left`,
      );
    }
  }
}

/** Growable byte buffer for BARE encoding. */
export class BareWriter {
  #buf: Uint8Array;
  #len = 0;

  constructor(capacity = 64) {
    this.#buf = new Uint8Array(capacity);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = value;
  }

  varint(value: number | bigint): void {
    let v = BigInt(value);
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`varint must be a u64, got ${value}`);
    }
    this.#reserve(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.#buf[this.#len++] = byte;
    } while (v !== 0n);
  }

  smallVarint(value: number): void {
    if (value > 0xffff_ffff) return this.varint(value);
    this.#reserve(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[this.#len++] = v;
  }

  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
  }

  data(value: Uint8Array): void {
    this.smallVarint(value.length);
    this.bytes(value);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
