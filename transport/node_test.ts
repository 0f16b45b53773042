// The Node adapter (`node:net`), tested under Deno's Node compatibility with real sockets on
// 127.0.0.1: the same protocol, bounds and errors as the Deno adapter, both adapters talking
// to each other, and the socket duplex's backpressure. The runtime matrix
// (tests/runtimes) runs it on Node 20 and Bun.
import assert from "node:assert/strict";
import * as net from "node:net";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { SealrouteError, TransportError } from "../errors.ts";
import { createIdentity, trustIdentifiers } from "../identity/mod.ts";
import { createRelay, Node, RoutedMessage, startEcho, startRelayService } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";
import type { Connection } from "./connection.ts";
import * as deno from "./deno.ts";
import { connectTcp, listenTcp, reconnectTcp, socketDuplex, useTcpTransport } from "./node.ts";
import { recordingLogger, until } from "./_helpers_test.ts";

/** A raw client socket to `port`, connected. */
async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {}); // resets are expected in these tests
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Resolves once the peer closed `socket` (EOF or reset), with what it sent before. */
function untilClosed(socket: net.Socket): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  socket.on("data", (d: Uint8Array) => chunks.push(d));
  return new Promise((resolve) => {
    socket.once("close", () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) out.set(c, (at += c.length) - c.length);
      resolve(out);
    });
  });
}

/** A listener whose accepted connections are collected in `accepted`. */
async function collectingListener(node: Node, options: { maxFrameSize?: number } = {}) {
  const accepted: Connection[] = [];
  const listener = await listenTcp(node, { ...options, onConnection: (c) => accepted.push(c) });
  return { listener, accepted };
}

Deno.test("node:net: two nodes, `1#host:port` routes connect and reuse the connection", async () => {
  await using server = new Node();
  await using client = new Node();
  await using listener = await listenTcp(server);
  startEcho(server, { consumes: [listener.flow] });
  useTcpTransport(client);
  const route = `1#127.0.0.1:${listener.port} => echo`;
  const r1 = await client.request(route, new Uint8Array([1]), { timeout: 2000 });
  const r2 = await client.request(route, new Uint8Array([2]), { timeout: 2000 });
  assert.deepEqual([r1.payload[0], r2.payload[0]], [1, 2]);
  assert.ok(r1.returnRoute.next!.equals(r2.returnRoute.next!), "connection reused");
  assert.equal(listener.connections.size, 1);
  assert.equal(listener.addr.transport, "tcp");
});

Deno.test("node:net and Deno.connect adapters interoperate both ways (the same wire bytes)", async () => {
  await using a = new Node();
  await using b = new Node();
  await using nodeSide = await listenTcp(a);
  await using denoSide = deno.listenTcp(b);
  startEcho(a, { consumes: [nodeSide.flow] });
  startEcho(b, { consumes: [denoSide.flow] });
  await using toDeno = await connectTcp(a, `127.0.0.1:${denoSide.port}`);
  await using toNode = await deno.connectTcp(b, `127.0.0.1:${nodeSide.port}`);
  const big = new Uint8Array(300_000).map((_, i) => i & 0xff); // written in pieces, read in many
  for (const [node, link] of [[a, toDeno], [b, toNode]] as const) {
    const small = await node.request(link.route.append("echo"), new Uint8Array([9]), {
      timeout: 2000,
    });
    assert.equal(small.payload[0], 9);
    const reply = await node.request(link.route.append("echo"), big, { timeout: 5000 });
    assert.deepEqual(reply.payload, big);
  }
});

Deno.test("node:net: 10,000 messages arrive in order; an 8 MiB message crosses intact", async () => {
  await using server = new Node();
  await using client = new Node();
  const seen: number[] = [];
  await using listener = await listenTcp(server);
  server.startWorker(
    "sink",
    ({ message }) => void seen.push(new DataView(message.payload.buffer).getUint32(0)),
    { consumes: [listener.flow] },
  );
  startEcho(server, { consumes: [listener.flow] });
  await using conn = await connectTcp(client, `1#127.0.0.1:${listener.port}`);
  const route = conn.route.append("sink");
  for (let i = 0; i < 10_000; i++) {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, i);
    await client.deliver(new RoutedMessage({ onwardRoute: route, payload }));
  }
  await until(() => seen.length === 10_000);
  assert.ok(seen.every((v, i) => v === i));
  const payload = new Uint8Array(8 * 1024 * 1024).fill(7);
  payload[0] = 1;
  const reply = await client.request(conn.route.append("echo"), payload, { timeout: 20_000 });
  assert.equal(reply.payload.length, payload.length);
  assert.equal(reply.payload[0], 1);
  assert.equal(reply.payload[payload.length - 1], 7);
});

Deno.test("node:net: a secure channel and a relay over TCP", async () => {
  await using hub = new Node();
  await using device = new Node();
  await using client = new Node();
  await using listener = await listenTcp(hub);
  await using service = startRelayService(hub, { consumes: [listener.flow] });
  const toHub = await connectTcp(device, `127.0.0.1:${listener.port}`);
  const identity = await createIdentity(new Vault());
  const channels = await createSecureChannelListener(device, "api", {
    identity,
    consumes: [toHub.flow],
  });
  startEcho(device, { consumes: [channels.flow] });
  await using relay = await createRelay(device, toHub.route, "device", { timeout: 2000 });
  const link = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const channel = await createSecureChannel(
    client,
    link.route.append(relay.address.toString()).append("api"),
    {
      identity: await createIdentity(new Vault()),
      trustPolicy: trustIdentifiers(identity.identifier),
      timeout: 10_000,
    },
  );
  assert.equal(channel.remoteIdentifier, identity.identifier);
  for (let i = 0; i < 40; i++) {
    const reply = await channel.request("echo", new Uint8Array([i]), { timeout: 5000 });
    assert.equal(reply.payload[0], i);
  }
  await channel.close();
  await toHub.close();
  await until(() => service.relays().length === 0);
});

Deno.test("node:net: an oversized frame length closes that connection with frame-too-large; others keep working", async () => {
  await using server = new Node();
  await using client = new Node();
  const { listener, accepted } = await collectingListener(server);
  await using _ = listener;
  startEcho(server, { consumes: [listener.flow] });
  await using good = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const raw = await rawSocket(listener.port);
  const closed = untilClosed(raw);
  const garbage = crypto.getRandomValues(new Uint8Array(4096));
  garbage[0] = 1; // the right version byte, then a length far over 16 MiB
  garbage[1] = 0xff;
  raw.write(garbage);
  await until(() => accepted.length === 2);
  const reason = await accepted[1]!.closed;
  assert.ok(reason instanceof TransportError);
  assert.equal(reason.code, "frame-too-large");
  await closed; // the server hung up on the raw socket
  const reply = await client.request(good.route.append("echo"), new Uint8Array([8]), {
    timeout: 2000,
  });
  assert.equal(reply.payload[0], 8);
});

Deno.test("node:net: maxFrameSize bounds what is accepted and what is sent", async () => {
  await using server = new Node();
  const logger = recordingLogger();
  await using client = new Node({ logger });
  const { listener, accepted } = await collectingListener(server, { maxFrameSize: 1024 });
  await using _ = listener;
  const raw = await rawSocket(listener.port);
  const closed = untilClosed(raw);
  raw.write(new Uint8Array([1, 0, 0, 0x08, 0x00])); // version, then a 2048-byte length
  await until(() => accepted.length === 1);
  assert.equal(((await accepted[0]!.closed) as TransportError).code, "frame-too-large");
  const answer = await closed;
  assert.equal(answer[0], 1, "the server wrote its version byte first");
  // The sending side refuses a message over its own maximum and keeps the connection.
  await using link = await connectTcp(client, `127.0.0.1:${listener.port}`, {
    maxFrameSize: 1024,
  });
  await client.deliver(
    new RoutedMessage({ onwardRoute: link.route.append("x"), payload: new Uint8Array(4096) }),
  );
  await until(() => logger.lines.some((l) => l.includes("larger than the maximum frame")));
  await until(() => accepted.length === 2);
  assert.equal(listener.connections.size, 1, "the connection stays up");
});

Deno.test("node:net: a wrong version byte closes with bad-protocol-version, an HTTP answer with wrong-protocol", async () => {
  await using server = new Node();
  const { listener, accepted } = await collectingListener(server);
  await using _ = listener;
  const raw = await rawSocket(listener.port);
  const closed = untilClosed(raw);
  raw.write(new Uint8Array([0x02, 0, 0, 0, 0]));
  await until(() => accepted.length === 1);
  assert.equal(((await accepted[0]!.closed) as TransportError).code, "bad-protocol-version");
  await closed;
  // A client dialling a web server's port: it answers in HTTP.
  const web = net.createServer((s) => {
    s.on("error", () => {});
    s.resume(); // reads what comes, so it sees the client's close
    s.end("HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  try {
    await using client = new Node();
    const link = await connectTcp(client, `127.0.0.1:${(web.address() as net.AddressInfo).port}`);
    const reason = await link.closed;
    assert.ok(reason instanceof TransportError);
    assert.equal(reason.code, "wrong-protocol");
  } finally {
    await new Promise((resolve) => web.close(resolve));
  }
});

Deno.test("node:net: a peer that closes mid-frame or half-closes ends the connection with a typed error", async () => {
  await using server = new Node();
  const { listener, accepted } = await collectingListener(server);
  await using _ = listener;
  // Mid-frame: the version byte and half of a 100-byte frame, then a full close.
  const cut = await rawSocket(listener.port);
  cut.write(new Uint8Array([1, 0, 0, 0, 100, 1, 2, 3]));
  await until(() => accepted.length === 1);
  cut.destroy();
  const truncated = await accepted[0]!.closed;
  assert.ok(truncated instanceof TransportError);
  assert.ok(["truncated-frame", "read-failed"].includes(truncated.code), truncated.code);
  // Half-open: the peer ends its writing side and keeps reading; the server closes too.
  const half = await rawSocket(listener.port);
  const closed = untilClosed(half);
  half.end(new Uint8Array([1]));
  await until(() => accepted.length === 2);
  const reason = await accepted[1]!.closed;
  assert.ok(reason instanceof TransportError);
  assert.equal(reason.code, "connection-closed");
  assert.deepEqual([...await closed], [1], "the server's version byte, then EOF");
});

Deno.test("node:net: a silent peer is closed by the first-byte timeout", async () => {
  await using server = new Node();
  const accepted: Connection[] = [];
  await using listener = await listenTcp(server, {
    firstByteTimeout: 200,
    onConnection: (c) => accepted.push(c),
  });
  const raw = await rawSocket(listener.port);
  const closed = untilClosed(raw);
  await until(() => accepted.length === 1);
  assert.equal(((await accepted[0]!.closed) as TransportError).code, "first-byte-timeout");
  await closed;
});

Deno.test("node:net: connect and listen failures are typed", async () => {
  await using client = new Node();
  await using a = new Node();
  await using b = new Node();
  const probe = await listenTcp(a);
  const port = probe.port;
  await assert.rejects(
    listenTcp(b, { port }),
    (e) => e instanceof TransportError && e.code === "listen-failed",
  );
  await probe.close();
  await assert.rejects(
    connectTcp(client, `127.0.0.1:${port}`),
    (e) => e instanceof TransportError && e.code === "connect-failed",
  );
  await assert.rejects(
    client.request(`1#127.0.0.1:${port} => echo`, new Uint8Array(), { timeout: 1000 }),
    (e) => e instanceof TransportError && e.code === "connect-failed",
  );
  await assert.rejects(
    connectTcp(client, "127.0.0.1"),
    (e) => e instanceof TransportError && e.code === "bad-address",
  );
});

Deno.test("node:net: past maxConnections an accepted connection is closed at once, with a warning", async () => {
  const logger = recordingLogger();
  await using server = new Node({ logger });
  await using client = new Node();
  await using listener = await listenTcp(server, { maxConnections: 1 });
  startEcho(server, { consumes: [listener.flow] });
  await using first = await connectTcp(client, `127.0.0.1:${listener.port}`);
  await client.request(first.route.append("echo"), new Uint8Array([1]), { timeout: 2000 });
  const extra = await rawSocket(listener.port);
  await untilClosed(extra);
  assert.ok(logger.lines.some((l) => l.includes("connection limit")));
  assert.equal(listener.connections.size, 1);
});

Deno.test("node:net: closing the node closes the listener and its connections; reconnectTcp redials", async () => {
  const server = new Node();
  await using client = new Node();
  const listener = await listenTcp(server);
  startEcho(server, { consumes: [listener.flow] });
  await using link = await reconnectTcp(client, `127.0.0.1:${listener.port}`, {
    initialDelay: 10,
  });
  const back = new Promise((resolve) => link.on((e) => e.type === "connected" && resolve(e)));
  for (const c of listener.connections) await c.close();
  await back;
  const reply = await client.request(link.route.append("echo"), new Uint8Array([3]), {
    timeout: 5000,
  });
  assert.equal(reply.payload[0], 3);
  const open = [...listener.connections];
  assert.equal(open.length, 1);
  await server.close();
  const why = await open[0]!.closed;
  assert.ok(why instanceof SealrouteError, `closed with ${why}`);
  assert.equal(listener.connections.size, 0);
  await assert.rejects(rawSocket(listener.port), "nothing listens any more");
});

Deno.test("node:net duplex: a peer that stops reading stalls the writer instead of growing its buffer", async () => {
  const server = net.createServer();
  const acceptedSocket = new Promise<net.Socket>((r) => server.once("connection", r));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const socket = await rawSocket((server.address() as net.AddressInfo).port);
  const peer = await acceptedSocket;
  peer.pause(); // reads nothing: kernel buffers fill, then the sender's socket buffer
  const duplex = socketDuplex(socket);
  const writer = duplex.writable.getWriter();
  const chunk = new Uint8Array(64 * 1024);
  const limit = 256 * 1024 * 1024; // far more than loopback's kernel buffers
  let accepted = 0;
  let stalled = false;
  let maxBuffered = 0;
  try {
    while (accepted < limit) {
      const write = writer.write(chunk);
      // Not a timing assertion: a write that has not resolved after 200 ms is a stall.
      const done = await Promise.race([
        write.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 200)),
      ]);
      maxBuffered = Math.max(maxBuffered, socket.writableLength);
      if (!done) {
        stalled = true;
        // Reading again resumes the writer, and every byte arrives.
        let received = 0;
        peer.on("data", (d: Uint8Array) => void (received += d.length));
        peer.resume();
        await write;
        accepted += chunk.length;
        await until(() => received === accepted, 10_000);
        break;
      }
      accepted += chunk.length;
    }
    assert.ok(stalled, `${accepted} bytes written to a peer that reads nothing without a stall`);
    assert.ok(
      maxBuffered <= socket.writableHighWaterMark + chunk.length,
      `the socket buffered ${maxBuffered} bytes`,
    );
  } finally {
    writer.releaseLock();
    await duplex.close();
    peer.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("node:net: a connection to a peer that never reads closes with write-timeout", async () => {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.write(new Uint8Array([1])); // a valid version byte, then it stops reading
    s.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await using client = new Node();
    const link = await connectTcp(
      client,
      `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      {
        writeTimeout: 300,
      },
    );
    const payload = new Uint8Array(256 * 1024);
    const sending = (async () => {
      for (let i = 0; i < 400; i++) {
        const sent = await client.deliver(
          new RoutedMessage({ onwardRoute: link.route.append("sink"), payload }),
        ).then(() => true, () => false);
        if (!sent) break;
      }
    })();
    const reason = await link.closed;
    assert.ok(reason instanceof TransportError);
    assert.equal(reason.code, "write-timeout");
    await sending;
  } finally {
    server.close();
  }
});
