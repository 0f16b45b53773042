import { DecodeError } from "../errors.ts";
import { Address, type AddressLike } from "./address.ts";

/**
 * Something that names a route: a {@linkcode Route}, an address, route text
 * (`"1#127.0.0.1:4000 => echo"`), or a list of addresses.
 */
export type RouteLike = Route | AddressLike | readonly AddressLike[];

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
    for (const part of parts) {
      if (part instanceof Route) out.push(...part.#addresses);
      else if (typeof part === "string") out.push(...Route.parse(part).#addresses);
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
        throw new DecodeError("bad-route", `expected an address between '=>', got '${text}'`);
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
    return Route.from(...parts, this);
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
    return Route.from(this, ...parts);
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
