import assert from "node:assert/strict";
import { TransportError } from "../errors.ts";
import { encodeTransportMessage, Node, RoutedMessage, startEcho } from "../routing/mod.ts";
import type { Connection } from "./connection.ts";
import { webSocketHandler } from "./deno.ts";
import { connectWebSocket, useWebSocketTransport } from "./websocket.ts";
import { until } from "./_helpers_test.ts";

/** A WebSocket server for `node`, with the flow its connections arrive on. */
function serve(node: Node, onConnection?: (c: Connection) => void) {
  const handler = webSocketHandler(node, onConnection ? { onConnection } : {});
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return Object.assign(http, { flow: handler.flow });
}

Deno.test("two nodes over WebSocket: request/reply, `3#host:port` routes, order of 2,000 messages", async () => {
  const server = new Node();
  const http = serve(server);
  startEcho(server, { consumes: [http.flow] });
  const seen: number[] = [];
  server.startWorker(
    "sink",
    ({ message }) => void seen.push(new DataView(message.payload.buffer).getUint32(0)),
    { consumes: [http.flow] },
  );
  try {
    await using client = new Node();
    const conn = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
    const reply = await client.request(conn.route.append("echo"), new Uint8Array([3]), {
      timeout: 2000,
    });
    assert.equal(reply.payload[0], 3);
    useWebSocketTransport(client);
    const viaAddress = await client.request(
      `3#127.0.0.1:${http.addr.port} => echo`,
      new Uint8Array([4]),
      {
        timeout: 2000,
      },
    );
    assert.equal(viaAddress.payload[0], 4);
    assert.ok(viaAddress.returnRoute.next!.equals(conn.address), "reused the open connection");
    for (let i = 0; i < 2000; i++) {
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, i);
      await client.deliver(new RoutedMessage({ onwardRoute: conn.route.append("sink"), payload }));
    }
    await until(() => seen.length === 2000);
    assert.ok(seen.every((v, i) => v === i));
  } finally {
    await server.close();
    await http.shutdown();
  }
});

Deno.test("WebSocket heartbeats are ignored; a text frame closes the connection with a TransportError", async () => {
  const server = new Node();
  const accepted: Connection[] = [];
  const http = serve(server, (c) => accepted.push(c));
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${http.addr.port}`);
    const closed = new Promise((r) => ws.onclose = r);
    await new Promise((r) => ws.onopen = r);
    ws.send(new Uint8Array([2, 0, 0, 0, 0])); // heartbeat
    ws.send(encodeTransportMessage(new RoutedMessage({ onwardRoute: [] })));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(accepted.length, 1);
    ws.send("hello");
    const reason = await accepted[0]!.closed;
    assert.ok(reason instanceof TransportError && reason.code === "bad-message");
    await closed;
  } finally {
    await server.close();
    await http.shutdown();
  }
});

Deno.test("a WebSocket server going away fails pending requests with a TransportError", async () => {
  const server = new Node();
  const accepted: Connection[] = [];
  const http = serve(server, (c) => accepted.push(c));
  server.startWorker("void", () => {}, { consumes: [http.flow] });
  try {
    await using client = new Node();
    const conn = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
    const pending = assert.rejects(
      client.request(conn.route.append("void"), new Uint8Array(), { timeout: 10_000 }),
      (e) => e instanceof TransportError,
    );
    await until(() => accepted.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    await accepted[0]!.close();
    await pending;
  } finally {
    await server.close();
    await http.shutdown();
  }
});

Deno.test("a WebSocket peer that outruns a full mailbox is cut off with overloaded, not buffered without bound", async () => {
  const server = new Node();
  // A slow worker with a small mailbox: the mailbox fills, then the connection's queue grows.
  const accepted: Connection[] = [];
  const handler = webSocketHandler(server, {
    maxQueuedBytes: 64 * 1024,
    onConnection: (c) => accepted.push(c),
  });
  server.startWorker("stuck", () => new Promise((r) => setTimeout(r, 2)), {
    mailboxCapacity: 4,
    consumes: [handler.flow],
  });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${http.addr.port}`);
    const closed = new Promise((r) => ws.onclose = r);
    await new Promise((r) => ws.onopen = r);
    const frame = encodeTransportMessage(
      new RoutedMessage({ onwardRoute: ["stuck"], payload: new Uint8Array(1024) }),
    );
    for (let i = 0; i < 200; i++) ws.send(frame);
    await until(() => accepted.length === 1);
    const reason = await accepted[0]!.closed;
    assert.ok(reason instanceof TransportError && reason.code === "overloaded", String(reason));
    await closed;
  } finally {
    await server.close();
    await http.shutdown();
  }
});
