import { Route, type RouteLike } from "./route.ts";

/**
 * Local information attached to a message on this node; it never goes on the wire.
 *
 * Routing treats it as opaque: upper layers (secure channels) fill it, access-control
 * hooks and workers read it. Keys are namespaced strings such as
 * {@linkcode LOCAL_INFO_IDENTIFIER}.
 */
export type LocalInfo = Readonly<Record<string, unknown>>;

/**
 * Local-info key under which a secure channel records the authenticated peer's identifier
 * (a string such as `"I923829d0..."`). The relay service uses it to decide whether a name
 * may be taken over.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LOCAL_INFO_IDENTIFIER } from "@sealroute/sealroute/routing";
 * assert(LOCAL_INFO_IDENTIFIER === "sealroute.identifier");
 * ```
 */
export const LOCAL_INFO_IDENTIFIER = "sealroute.identifier";

const EMPTY_INFO: LocalInfo = Object.freeze({});

/** Fields to build a {@linkcode RoutedMessage} from. */
export interface RoutedMessageInit {
  /** Where the message goes; the first address is the next hop. */
  onwardRoute: RouteLike;
  /** Where replies go. Default: the empty route. */
  returnRoute?: RouteLike;
  /** The payload bytes. Default: empty. */
  payload?: Uint8Array;
  /** Local info (never on the wire). Default: empty. */
  localInfo?: LocalInfo;
}

/**
 * A message with its onward and return routes, payload, and local info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoutedMessage } from "@sealroute/sealroute/routing";
 *
 * const m = new RoutedMessage({ onwardRoute: "echo", returnRoute: "app", payload: new Uint8Array([1]) });
 * const stepped = m.with({ onwardRoute: m.onwardRoute.popFront() });
 * assert(stepped.onwardRoute.isEmpty && stepped.returnRoute.toString() === "app");
 * ```
 */
export class RoutedMessage {
  /** Where the message goes; the first address is the next hop. */
  readonly onwardRoute: Route;
  /** Where replies go. */
  readonly returnRoute: Route;
  /** The payload bytes. */
  readonly payload: Uint8Array;
  /** Local info; never encoded. */
  readonly localInfo: LocalInfo;

  /**
   * Creates a message; routes given as text or addresses are converted.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RoutedMessage } from "@sealroute/sealroute/routing";
   * const m = new RoutedMessage({ onwardRoute: ["a", "b"] });
   * assert(m.payload.length === 0 && m.returnRoute.isEmpty);
   * ```
   */
  constructor(init: RoutedMessageInit) {
    this.onwardRoute = Route.from(init.onwardRoute);
    this.returnRoute = init.returnRoute === undefined ? Route.EMPTY : Route.from(init.returnRoute);
    this.payload = init.payload ?? new Uint8Array(0);
    this.localInfo = init.localInfo ?? EMPTY_INFO;
  }

  /**
   * A copy with some fields replaced.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RoutedMessage } from "@sealroute/sealroute/routing";
   * const m = new RoutedMessage({ onwardRoute: "a" }).with({ localInfo: { k: 1 } });
   * assert(m.localInfo.k === 1);
   * ```
   */
  with(changes: Partial<RoutedMessageInit>): RoutedMessage {
    return new RoutedMessage({
      onwardRoute: changes.onwardRoute ?? this.onwardRoute,
      returnRoute: changes.returnRoute ?? this.returnRoute,
      payload: changes.payload ?? this.payload,
      localInfo: changes.localInfo ?? this.localInfo,
    });
  }
}
