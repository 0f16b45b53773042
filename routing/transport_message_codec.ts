// OCKAM_WIRE §2.2: the legacy BARE `TransportMessage` (WebSocket, UDS).
import { DecodeError } from "../errors.ts";
import { BareReader, BareWriter } from "./_bare.ts";
import {
  DEFAULT_MAX_ADDRESS_LENGTH,
  DEFAULT_MAX_ROUTE_LENGTH,
  type Route,
  type RouteLimits,
} from "./route.ts";
import { addressTooLong, routeOfSpans, routeTooLong } from "./tcp_codec.ts";
import { RoutedMessage } from "./routed_message.ts";

/**
 * Encodes a message as a BARE `TransportMessage` version 1 with a trailing `0x00` (no
 * tracing context), as `LocalMessage::into_transport_message` does for WebSocket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTransportMessage, RoutedMessage } from "@sealroute/sealroute/routing";
 *
 * const bytes = encodeTransportMessage(new RoutedMessage({ onwardRoute: [] }));
 * assert(bytes.join() === "1,0,0,0,0");
 * ```
 */
export function encodeTransportMessage(message: RoutedMessage): Uint8Array {
  const w = new BareWriter(message.payload.length + 64);
  w.u8(1);
  writeRoute(w, message.onwardRoute);
  writeRoute(w, message.returnRoute);
  w.data(message.payload);
  w.u8(0);
  return w.finish();
}

/**
 * Decodes a BARE `TransportMessage`: version 1 (tracing option byte optional) or 2, and
 * nothing after it (see DECODING.md). Each route holds at most `maxRouteLength`
 * addresses, refused from its count before any address is built.
 *
 * @throws {DecodeError} codes `bad-version`, `truncated`, `varint-overflow`,
 * `non-minimal-varint`, `bad-option`, `bad-utf8`, `trailing-bytes`, `route-too-long`,
 * `address-too-long`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTransportMessage } from "@sealroute/sealroute/routing";
 *
 * // The WebSocket heartbeat: latest version, empty routes and payload, no tracing.
 * const heartbeat = decodeTransportMessage(new Uint8Array([2, 0, 0, 0, 0]));
 * assert(heartbeat.onwardRoute.isEmpty);
 * // Two onward addresses where one is allowed.
 * const long = new Uint8Array([2, 2, 0, 1, 0x61, 0, 1, 0x62, 0, 0, 0]);
 * assert.throws(() => decodeTransportMessage(long, { maxRouteLength: 1 }), { code: "route-too-long" });
 * ```
 */
export function decodeTransportMessage(
  bytes: Uint8Array,
  options: RouteLimits = {},
): RoutedMessage {
  const limits: Required<RouteLimits> = {
    maxRouteLength: options.maxRouteLength ?? DEFAULT_MAX_ROUTE_LENGTH,
    maxAddressLength: options.maxAddressLength ?? DEFAULT_MAX_ADDRESS_LENGTH,
  };
  const r = new BareReader(bytes);
  const version = r.u8();
  if (version !== 1 && version !== 2) {
    throw new DecodeError(
      "bad-version",
      `expected TransportMessage version 1 or 2, got ${version}`,
    );
  }
  const onwardRoute = readRoute(r, limits, "onward");
  const returnRoute = readRoute(r, limits, "return");
  const payload = r.data().slice();
  if (version === 2 || r.remaining > 0) {
    const tag = r.u8();
    if (tag === 1) r.string();
    else if (tag !== 0) {
      throw new DecodeError("bad-option", `expected option tag 0 or 1, got ${tag}`);
    }
  }
  r.end();
  return new RoutedMessage({ onwardRoute, returnRoute, payload });
}

function writeRoute(w: BareWriter, route: Route): void {
  w.smallVarint(route.length);
  for (const a of route) {
    w.u8(a.type);
    w.data(a.value);
  }
}

function readRoute(r: BareReader, limits: Required<RouteLimits>, which: string): Route {
  const count = r.varint();
  if (count > limits.maxRouteLength) throw routeTooLong(which, count, limits.maxRouteLength);
  // Each address takes at least 2 bytes, so a larger count cannot be satisfied by the input.
  if (count * 2 > r.remaining) {
    throw new DecodeError(
      "truncated",
      `expected ${count} addresses, only ${r.remaining} bytes left`,
    );
  }
  const spans: number[] = [];
  for (let i = 0; i < count; i++) {
    const tt = r.u8();
    const length = r.varint();
    if (length > limits.maxAddressLength) {
      throw addressTooLong(which, length, limits.maxAddressLength);
    }
    spans.push(tt, r.offset, length);
    r.skip(length);
  }
  return routeOfSpans(r.bytes, spans);
}
