import { randomHex16, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Transport type of local addresses (OCKAM_WIRE §1: `LOCAL = 0`). */
export const LOCAL: number = 0;
/** Transport type of TCP addresses such as `1#127.0.0.1:4000`. */
export const TCP: number = 1;
/** Transport type of UDP addresses. */
export const UDP: number = 2;
/** Transport type of WebSocket addresses such as `3#127.0.0.1:8080`. */
export const WS: number = 3;

/** Something that names an address: an {@linkcode Address} or its text form. */
export type AddressLike = Address | string;

/**
 * An Ockam address: a transport type byte and opaque value bytes.
 *
 * The text form is `tt#value` (`1#127.0.0.1:4000`); local addresses (type 0) print bare
 * (`echo`). Parsing follows OCKAM_WIRE §1: no `#` means local, one `#` is preceded by a
 * decimal `u8`, more than one is an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Address } from "@sealroute/sealroute/routing";
 *
 * const tcp = Address.parse("1#127.0.0.1:4000");
 * assert(tcp.type === 1 && !tcp.isLocal);
 * assert(Address.parse("echo").toString() === "echo");
 * assert(Address.parse("0#echo").equals(Address.local("echo")));
 * ```
 */
export class Address {
  /** The transport type byte (0 local, 1 TCP, 3 WebSocket, ...). */
  readonly type: number;
  /** The value bytes (for TCP the UTF-8 `host:port`, for local the name). */
  readonly value: Uint8Array;
  #text: string | undefined;

  /**
   * Creates an address from a transport type byte and a value (bytes or UTF-8 text).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * const a = new Address(1, "127.0.0.1:4000");
   * assert(a.toString() === "1#127.0.0.1:4000");
   * ```
   */
  constructor(type: number, value: Uint8Array | string) {
    if (!Number.isInteger(type) || type < 0 || type > 255) {
      throw new RangeError(`address type must be an integer 0..255, got ${type}`);
    }
    this.type = type;
    if (typeof value === "string") {
      this.value = encoder.encode(value);
      this.#text = value;
    } else {
      this.value = value;
    }
  }

  /**
   * Parses the text form `tt#value` (or a bare local name).
   *
   * @throws {DecodeError} code `bad-address` for more than one `#`, a bad type number or an
   * empty local name.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.parse("3#localhost:8080").type === 3);
   * ```
   */
  static parse(text: string): Address {
    const hash = text.indexOf("#");
    if (hash < 0) return text === "" ? noLocalName() : new Address(LOCAL, text);
    if (text.indexOf("#", hash + 1) >= 0) {
      throw new DecodeError(
        "bad-address",
        `expected at most one '#' in address, got '${quote(text)}'`,
      );
    }
    const tt = text.slice(0, hash);
    if (!/^[0-9]{1,3}$/.test(tt) || Number(tt) > 255) {
      throw new DecodeError(
        "bad-address",
        `expected a transport type 0..255 before '#', got '${quote(tt)}'`,
      );
    }
    const type = Number(tt);
    if (type === LOCAL && hash === text.length - 1) return noLocalName();
    return new Address(type, text.slice(hash + 1));
  }

  /**
   * Returns `like` if it is an address, else parses it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.from("echo").isLocal);
   * ```
   */
  static from(like: AddressLike): Address {
    return like instanceof Address ? like : Address.parse(like);
  }

  /**
   * A local (type 0) address with the given name, taken literally (no `#` parsing).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.local("api").toString() === "api");
   * ```
   */
  static local(name: string): Address {
    return new Address(LOCAL, name);
  }

  /**
   * A fresh random local address: 16 random bytes, hex-encoded (32 characters), as Ockam does.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.random().toString().length === 32);
   * ```
   */
  static random(): Address {
    return new Address(LOCAL, randomHex16());
  }

  /**
   * Whether this is a local (type 0) address.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(!Address.parse("1#h:1").isLocal);
   * ```
   */
  get isLocal(): boolean {
    return this.type === LOCAL;
  }

  /**
   * The value as text: UTF-8 when valid, else `0x` followed by hex.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.parse("1#h:1").valueText === "h:1");
   * ```
   */
  get valueText(): string {
    if (this.#text === undefined) {
      // Fast path for short ASCII values (every local and TCP address in practice).
      const v = this.value;
      if (v.length <= 64) {
        let ascii = true;
        for (let i = 0; i < v.length; i++) {
          if (v[i]! >= 0x80) {
            ascii = false;
            break;
          }
        }
        if (ascii) {
          this.#text = String.fromCharCode(...v);
          return this.#text;
        }
      }
      try {
        this.#text = strictDecoder.decode(this.value);
      } catch {
        this.#text = `0x${toHex(this.value)}`;
      }
    }
    return this.#text;
  }

  /**
   * The text form: bare value for local addresses, `tt#value` otherwise.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(new Address(1, "h:1").toString() === "1#h:1");
   * ```
   */
  toString(): string {
    return this.type === LOCAL ? this.valueText : `${this.type}#${this.valueText}`;
  }

  /**
   * Whether both addresses have the same type and value bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address } from "@sealroute/sealroute/routing";
   * assert(Address.parse("a").equals(Address.local("a")));
   * ```
   */
  equals(other: Address): boolean {
    if (other.type !== this.type || other.value.length !== this.value.length) return false;
    for (let i = 0; i < this.value.length; i++) {
      if (this.value[i] !== other.value[i]) return false;
    }
    return true;
  }
}

// An empty local name (`""`, `"0#"`) names no worker, and its text form would be the empty
// route; Ockam accepts it, Sealroute refuses it (DECODING.md).
function noLocalName(): never {
  throw new DecodeError("bad-address", "expected a local address name, got nothing");
}

// Error messages quote at most a short prefix of their input.
function quote(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 40)}…`;
}
