import { DecodeError } from "../errors.ts";
import { Address, type AddressLike } from "./address.ts";

/**
 * Something that names a route: a {@linkcode Route}, an address, route text
 * (`"1#127.0.0.1:4000 => echo"`), or a list of addresses.
 */
export type RouteLike = Route | AddressLike | readonly AddressLike[];

/**
 * Default {@linkcode RouteLimits.maxRouteLength}: 64 addresses per route.
 *
 * Real routes are a handful of hops; a channel nested in a channel through two relays
 * carries about 10–20 addresses in its longest route. 64 leaves room for three times
 * that while bounding the objects one decoded route can make (see DECODING.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_ROUTE_LENGTH } from "./route.ts";
 * assert(DEFAULT_MAX_ROUTE_LENGTH === 64);
 * ```
 */
export const DEFAULT_MAX_ROUTE_LENGTH: number = 64;

/**
 * Default {@linkcode RouteLimits.maxAddressLength}: 1024 bytes per address value.
 *
 * The longest values Ockam makes are `host:port` (a DNS name is at most 253 bytes) and
 * relay names; random local addresses are 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_ADDRESS_LENGTH } from "./route.ts";
 * assert(DEFAULT_MAX_ADDRESS_LENGTH === 1024);
 * ```
 */
export const DEFAULT_MAX_ADDRESS_LENGTH: number = 1024;

/** Bounds on routes decoded from the wire (both codecs and the secure channel's plaintext). */
export interface RouteLimits {
  /**
   * Most addresses in one route; a longer route is a `DecodeError` with code
   * `route-too-long`, raised before any address of it is decoded. Default
   * {@linkcode DEFAULT_MAX_ROUTE_LENGTH}.
   */
  maxRouteLength?: number;
  /**
   * Most bytes in one address value; a longer one is a `DecodeError` with code
   * `address-too-long`. Default {@linkcode DEFAULT_MAX_ADDRESS_LENGTH}.
   */
  maxAddressLength?: number;
}

/**
 * An immutable list of addresses a message travels along.
 *
 * Every "change" returns a new route. The text form joins addresses with ` => `.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Route } from "@sealroute/sealroute/routing";
 *
 * const route = Route.parse("1#127.0.0.1:4000 => echo");
 * assert(route.length === 2);
 * assert(route.popFront().toString() === "echo");
 * assert(Route.from("a", "b").append("c").toString() === "a => b => c");
 * ```
 */
export class Route implements Iterable<Address> {
  /** The empty route. */
  static readonly EMPTY: Route = new Route([]);
  readonly #addresses: readonly Address[];

  /**
   * Creates a route from addresses (copied).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address, Route } from "@sealroute/sealroute/routing";
   * assert(new Route([Address.local("a")]).length === 1);
   * ```
   */
  constructor(addresses: readonly Address[] = []) {
    this.#addresses = addresses.slice();
  }

  /**
   * Builds a route from routes, addresses and address texts, in order.
   *
   * A string is route text (`"1#h:1 => echo"`, see {@linkcode Route.parse}); each string
   * inside an array is one address.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * const r = Route.from(Route.from("a"), ["b", "c"], "d");
   * assert(r.toString() === "a => b => c => d");
   * ```
   */
  static from(...parts: RouteLike[]): Route {
    if (parts.length === 1 && parts[0] instanceof Route) return parts[0];
    const out: Address[] = [];
    // Element by element, never `push(...addresses)`: spreading passes each address as an
    // argument, and a long route (≈ 125k addresses) overflows the argument limit.
    for (const part of parts) {
      if (part instanceof Route) appendAll(out, part.#addresses);
      else if (typeof part === "string") appendAll(out, Route.parse(part).#addresses);
      else if (part instanceof Address) out.push(part);
      else for (const a of part) out.push(Address.from(a));
    }
    return new Route(out);
  }

  /**
   * Parses `a => b => c` (OCKAM_WIRE §1: split on `=>`, trim each part); `""` is the empty route.
   *
   * @throws {DecodeError} code `bad-route` for an empty hop, `bad-address` for a bad address.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.parse("  a=>1#h:1 ").at(1)?.type === 1);
   * ```
   */
  static parse(text: string): Route {
    if (text.trim() === "") return Route.EMPTY;
    const out: Address[] = [];
    for (const part of text.split("=>")) {
      const trimmed = part.trim();
      if (trimmed === "") {
        throw new DecodeError(
          "bad-route",
          `expected an address between '=>', got '${quote(text)}'`,
        );
      }
      out.push(Address.parse(trimmed));
    }
    return new Route(out);
  }

  /**
   * Number of addresses.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.EMPTY.length === 0);
   * ```
   */
  get length(): number {
    return this.#addresses.length;
  }

  /**
   * Whether the route has no address.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from([]).isEmpty);
   * ```
   */
  get isEmpty(): boolean {
    return this.#addresses.length === 0;
  }

  /**
   * The first address (the next hop), if any.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "b").next?.toString() === "a");
   * ```
   */
  get next(): Address | undefined {
    return this.#addresses[0];
  }

  /**
   * The last address (the final recipient), if any.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "b").last?.toString() === "b");
   * ```
   */
  get last(): Address | undefined {
    return this.#addresses[this.#addresses.length - 1];
  }

  /**
   * The address at `index` (negative counts from the end).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "b").at(-1)?.toString() === "b");
   * ```
   */
  at(index: number): Address | undefined {
    return this.#addresses.at(index);
  }

  /**
   * A new route with `parts` in front.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("b").prepend("a").toString() === "a => b");
   * ```
   */
  prepend(...parts: RouteLike[]): Route {
    // `parts` are the caller's own arguments (few); this route is passed as one value.
    parts.push(this);
    return Route.from(...parts);
  }

  /**
   * A new route with `parts` at the end.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a").append("b", "c").length === 3);
   * ```
   */
  append(...parts: RouteLike[]): Route {
    parts.unshift(this);
    return Route.from(...parts);
  }

  /**
   * A new route without its first address (empty stays empty).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "b").popFront().toString() === "b");
   * ```
   */
  popFront(): Route {
    return new Route(this.#addresses.slice(1));
  }

  /**
   * A new route without its last address (empty stays empty).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "b").popBack().toString() === "a");
   * ```
   */
  popBack(): Route {
    return new Route(this.#addresses.slice(0, -1));
  }

  /**
   * A copy of the addresses as an array.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a").toArray().length === 1);
   * ```
   */
  toArray(): Address[] {
    return this.#addresses.slice();
  }

  /**
   * Iterates over the addresses, first hop first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert([...Route.from("a", "b")].length === 2);
   * ```
   */
  [Symbol.iterator](): Iterator<Address> {
    return this.#addresses[Symbol.iterator]();
  }

  /**
   * Whether both routes hold equal addresses in the same order.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.parse("a => b").equals(Route.from("a", "b")));
   * ```
   */
  equals(other: Route): boolean {
    const a = this.#addresses;
    const b = other.#addresses;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!a[i]!.equals(b[i]!)) return false;
    return true;
  }

  /**
   * The text form, addresses joined by ` => `.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Route } from "@sealroute/sealroute/routing";
   * assert(Route.from("a", "1#h:1").toString() === "a => 1#h:1");
   * ```
   */
  toString(): string {
    return this.#addresses.join(" => ");
  }
}

function appendAll(out: Address[], addresses: readonly Address[]): void {
  for (let i = 0; i < addresses.length; i++) out.push(addresses[i]!);
}

// Error messages quote at most a short prefix of their input.
function quote(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 40)}…`;
}
