// OCKAM_WIRE §2.2: the legacy BARE `TransportMessage` (WebSocket, UDS).
import { DecodeError } from "../errors.ts";
import { Address } from "./address.ts";
import { BareReader, BareWriter } from "./_bare.ts";
import { Route } from "./route.ts";
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
 * Decodes a BARE `TransportMessage`: version 1 (tracing option byte optional) or 2.
 *
 * @throws {DecodeError} codes `bad-version`, `truncated`, `varint-overflow`, `bad-option`,
 * `bad-utf8`, `trailing-bytes`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTransportMessage } from "@sealroute/sealroute/routing";
 *
 * // The WebSocket heartbeat: latest version, empty routes and payload, no tracing.
 * const heartbeat = decodeTransportMessage(new Uint8Array([2, 0, 0, 0, 0]));
 * assert(heartbeat.onwardRoute.isEmpty);
 * ```
 */
export function decodeTransportMessage(bytes: Uint8Array): RoutedMessage {
  const r = new BareReader(bytes);
  const version = r.u8();
  if (version !== 1 && version !== 2) {
    throw new DecodeError(
      "bad-version",
      `expected TransportMessage version 1 or 2, got ${version}`,
    );
  }
  const onwardRoute = readRoute(r);
  const returnRoute = readRoute(r);
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

function readRoute(r: BareReader): Route {
  const count = r.varint();
  // Each address takes at least 2 bytes, so a larger count cannot be satisfied by the input.
  if (count * 2 > r.remaining) {
    throw new DecodeError(
      "truncated",
      `expected ${count} addresses, only ${r.remaining} bytes left`,
    );
  }
  const out: Address[] = [];
  for (let i = 0; i < count; i++) {
    const tt = r.u8();
    out.push(new Address(tt, r.data().slice()));
  }
  return new Route(out);
}
