// Helpers of the transport attack tests (issue 12): a default-configured server node with a
// capturing logger, raw attacker sockets speaking (or abusing) Ockam's TCP wire, and a
// legitimate client whose echo request must succeed during and after each attack.
import assert from "node:assert/strict";
import { TransportError } from "../../errors.ts";
import type { Logger } from "../../routing/logger.ts";
import { encodeTcpMessage, Node, RoutedMessage, startEcho } from "../../routing/mod.ts";
import { type Connection, connectWebSocket, encodeFrames } from "../../transport/mod.ts";
import {
  connectTcp,
  listenTcp,
  type ListenTcpOptions,
  type TcpListener,
} from "../../transport/deno.ts";

/** One logged line, with its fields. */
export interface LogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every line (debug excluded). */
export function capturingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const push = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void entries.push({ level, message, fields });
  return { entries, debug: () => {}, info: push("info"), warn: push("warn"), error: push("error") };
}

/** Codes of the reasons logged with "connection lost". */
export function lostCodes(log: { entries: LogEntry[] }): string[] {
  return log.entries
    .filter((e) => e.message === "connection lost")
    .map((e) => (e.fields?.reason as { code?: string } | undefined)?.code ?? "?");
}

/** Waits (event loop turns, generous hang guard) until `check` holds. */
export async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert(check(), `timed out waiting for ${what}`);
}

/** A default-configured TCP server node (only timeouts shrunk by the caller) with echo. */
export interface TcpServer {
  node: Node;
  log: Logger & { entries: LogEntry[] };
  listener: TcpListener;
  accepted: Connection[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a node, a TCP listener with `options` and an echo service consuming its flow. */
export function tcpServer(options: ListenTcpOptions = {}): TcpServer {
  const log = capturingLogger();
  const node = new Node({ logger: log });
  const accepted: Connection[] = [];
  const listener = listenTcp(node, {
    ...options,
    onConnection: (c) => void accepted.push(c),
  });
  startEcho(node, { consumes: [listener.flow] });
  return { node, log, listener, accepted, [Symbol.asyncDispose]: () => node.close() };
}

/** A legitimate client: a fresh node dials `port` and an echo request comes back. */
export async function legitTcpEcho(port: number, byte = 42): Promise<void> {
  await using client = new Node();
  const link = await connectTcp(client, `127.0.0.1:${port}`);
  const reply = await client.request(link.route.append("echo"), new Uint8Array([byte]), {
    timeout: 10_000,
  });
  assert.equal(reply.payload[0], byte);
  assert.equal(reply.payload.length, 1);
}

/** A legitimate WebSocket client: a fresh node connects and an echo request comes back. */
export async function legitWsEcho(port: number, byte = 43): Promise<void> {
  await using client = new Node();
  const link = await connectWebSocket(client, `ws://127.0.0.1:${port}`);
  const reply = await client.request(link.route.append("echo"), new Uint8Array([byte]), {
    timeout: 10_000,
  });
  assert.equal(reply.payload[0], byte);
}

/** Opens a raw attacker socket to `port`. */
export function rawConnect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Reads until the server ends the connection (EOF or reset); returns the bytes read. */
export async function readToEnd(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return total;
    total += n;
  }
}

/** Closes a socket, ignoring one already closed. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** The body of an echo request (TCP codec) with return route `[client]`. */
export function echoBody(payload: Uint8Array = new Uint8Array([1, 2, 3])): Uint8Array {
  return encodeTcpMessage(
    new RoutedMessage({ onwardRoute: ["echo"], returnRoute: ["client"], payload }),
  );
}

/** Version byte + one framed echo request. */
export function echoWire(payload?: Uint8Array): Uint8Array {
  const frame = encodeFrames([echoBody(payload)]);
  const out = new Uint8Array(1 + frame.length);
  out[0] = 1;
  out.set(frame, 1);
  return out;
}

/** The reason a connection closed, asserted to be a `TransportError` with one of `codes`. */
export async function closedWith(connection: Connection, ...codes: string[]): Promise<string> {
  const reason = await connection.closed;
  assert(reason instanceof TransportError, `expected a TransportError, got ${reason}`);
  assert(codes.includes(reason.code), `expected ${codes.join("|")}, got ${reason.code}`);
  return reason.code;
}

/**
 * CBOR TCP body of an echo request whose return route has `count` one-byte addresses,
 * written by hand so no `Route` of that length is ever built by the test.
 */
export function longReturnRouteBody(count: number): Uint8Array {
  const head = [0x83, 0x81, 0x82, 0x00, 0x44, 0x65, 0x63, 0x68, 0x6f];
  const out = new Uint8Array(head.length + 5 + count * 4 + 1);
  out.set(head);
  let at = head.length;
  out[at++] = 0x9a;
  new DataView(out.buffer).setUint32(at, count);
  at += 4;
  for (let i = 0; i < count; i++) {
    out.set([0x82, 0x00, 0x41, 0x61], at);
    at += 4;
  }
  out[at] = 0x40; // empty payload
  return out;
}
