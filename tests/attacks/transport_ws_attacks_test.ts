// WebSocket attacks on a default-configured `serveWebSocket` over real loopback sockets
// (issue 12): a 254 KiB message, a message over maxMessageSize, text and garbage messages,
// a 125,000-address return route, the connection cap. A legitimate client is served during
// and after each, and the server process never dies.
import assert from "node:assert/strict";
import { encodeTransportMessage, Node, RoutedMessage, startEcho } from "../../routing/mod.ts";
import { type Connection, connectWebSocket } from "../../transport/mod.ts";
import { serveWebSocket } from "../../transport/deno.ts";
import {
  capturingLogger,
  closedWith,
  closeQuietly,
  legitWsEcho,
  lostCodes,
  rawConnect,
  until,
} from "./_transport_attack_util.ts";

function wsServer(options: Parameters<typeof serveWebSocket>[1] = {}) {
  const log = capturingLogger();
  const node = new Node({ logger: log });
  const accepted: Connection[] = [];
  const ws = serveWebSocket(node, { ...options, onConnection: (c) => void accepted.push(c) });
  startEcho(node, { consumes: [ws.flow] });
  return { node, log, ws, accepted, [Symbol.asyncDispose]: () => node.close() };
}

/** Opens a raw WebSocket, sends `data`, resolves once the server closes it. */
async function sendRaw(port: number, data: string | Uint8Array): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  socket.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("did not open"));
  });
  const closed = new Promise<void>((resolve) => socket.onclose = () => resolve());
  socket.send(data);
  await closed;
}

Deno.test("one 254 KiB garbage message, text and a garbage message close with bad-message", async () => {
  await using server = wsServer();
  const big = new Uint8Array(254 * 1024).map((_, i) => (i * 131 + 7) & 0xff);
  big[0] = 1;
  await sendRaw(server.ws.port, big);
  await legitWsEcho(server.ws.port, 1);
  await sendRaw(server.ws.port, "GET / HTTP/1.1");
  await sendRaw(server.ws.port, new Uint8Array([0xff, 0xfe, 0xfd, 0xfc]));
  await sendRaw(server.ws.port, new Uint8Array(0));
  await until(() => server.accepted.length === 5, "accepts");
  const attackers = [0, 2, 3, 4].map((i) => server.accepted[i]!);
  for (const c of attackers) await closedWith(c, "bad-message");
  assert(lostCodes(server.log).filter((c) => c === "bad-message").length >= 4);
  await legitWsEcho(server.ws.port, 2);
});

Deno.test("a message over maxMessageSize closes with frame-too-large; the server lives", async () => {
  await using server = wsServer({ maxMessageSize: 1024 * 1024 });
  await sendRaw(server.ws.port, new Uint8Array(1024 * 1024 + 1));
  await until(() => server.accepted.length === 1, "accept");
  await closedWith(server.accepted[0]!, "frame-too-large");
  assert(lostCodes(server.log).includes("frame-too-large"));
  await legitWsEcho(server.ws.port, 3);
});

Deno.test("a return route of 125,000 addresses over WebSocket is refused without a crash", async () => {
  await using server = wsServer();
  const returnRoute = Array.from({ length: 125_000 }, () => "a");
  const bytes = encodeTransportMessage(
    new RoutedMessage({ onwardRoute: ["echo"], returnRoute, payload: new Uint8Array([1]) }),
  );
  await sendRaw(server.ws.port, bytes);
  await until(() => server.accepted.length === 1, "accept");
  await closedWith(server.accepted[0]!, "bad-message");
  const lost = server.log.entries.find((e) => e.message === "connection lost");
  assert.equal(
    (lost?.fields?.reason as { cause?: { code?: string } }).cause?.code,
    "route-too-long",
  );
  await legitWsEcho(server.ws.port, 4);
});

/** Sends an upgrade request on a raw socket; returns the HTTP status code. */
async function upgradeStatus(port: number): Promise<number> {
  const raw = await rawConnect(port);
  await raw.write(
    new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
  );
  const buf = new Uint8Array(1024);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await raw.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  closeQuietly(raw);
  return Number(text.split(" ")[1]);
}

Deno.test("past maxConnections a WebSocket upgrade gets 503, with a warning logged", async () => {
  await using server = wsServer({ maxConnections: 2 });
  const held = [new Node(), new Node()];
  for (const n of held) await connectWebSocket(n, `ws://127.0.0.1:${server.ws.port}`);
  await until(() => server.ws.connections.size === 2, "two connections");
  assert.equal(await upgradeStatus(server.ws.port), 503);
  assert(server.log.entries.some((e) => e.level === "warn" && e.message.includes("limit")));
  for (const n of held) await n.close();
  await until(() => server.ws.connections.size === 0, "slots freed");
  await legitWsEcho(server.ws.port, 5);
});
