// Transport-level attacks on a default-configured TCP listener over real loopback sockets
// (issue 12): announced-but-unsent frames, slowloris, half-open floods, idle links, a slow
// reader flooded with replies, long routes, bit flips. Only timeouts are shrunk (documented
// options) so the tests finish quickly. A legitimate client is served during and after.
import assert from "node:assert/strict";
import { decodeTcpMessage, Node } from "../../routing/mod.ts";
import { encodeFrames, FrameDecoder } from "../../transport/mod.ts";
import { connectTcp } from "../../transport/deno.ts";
import {
  closedWith,
  closeQuietly,
  echoBody,
  echoWire,
  legitTcpEcho,
  longReturnRouteBody,
  lostCodes,
  rawConnect,
  readToEnd,
  tcpServer,
  until,
} from "./_transport_attack_util.ts";

Deno.test("50 connections announcing 16 MiB frames and sending at most 1 byte close by frame-timeout", async () => {
  await using server = tcpServer({ frameTimeout: 300 });
  const header = new Uint8Array([1, 0, 0xff, 0xff, 0xf0, 7]); // version, ~16 MiB length, 1 byte
  const raws = await Promise.all(
    Array.from({ length: 50 }, () => rawConnect(server.listener.port)),
  );
  // Half send one body byte, half only the header (a bare header is a partial frame too).
  await Promise.all(raws.map((r, i) => r.write(i % 2 ? header : header.subarray(0, 5))));
  await legitTcpEcho(server.listener.port, 1); // served during the attack
  await until(() => server.accepted.length >= 50, "accepts");
  const attackers = server.accepted.slice(0, 50);
  const codes = await Promise.all(attackers.map((c) => closedWith(c, "frame-timeout")));
  assert.equal(codes.length, 50);
  await Promise.all(raws.map(readToEnd));
  raws.forEach(closeQuietly);
  await until(() => server.listener.connections.size === 0, "connections released");
  assert(lostCodes(server.log).filter((c) => c === "frame-timeout").length >= 50);
  await legitTcpEcho(server.listener.port, 2);
});

Deno.test("slowloris: one byte every 50 ms never finishes a frame and closes with frame-timeout", async () => {
  await using server = tcpServer({ frameTimeout: 300 });
  const raw = await rawConnect(server.listener.port);
  await raw.write(new Uint8Array([1, 0, 0, 1, 0])); // a 256-byte frame, then a trickle
  await until(() => server.accepted.length === 1, "accept");
  const attacker = server.accepted[0]!;
  let closed = false;
  void attacker.closed.then(() => closed = true);
  let sent = 0;
  const trickle = (async () => {
    while (!closed && sent < 255) {
      await new Promise((r) => setTimeout(r, 50));
      if (await raw.write(new Uint8Array([0x41])).then(() => true, () => false)) sent++;
      else break;
    }
  })();
  await legitTcpEcho(server.listener.port, 3);
  await closedWith(attacker, "frame-timeout");
  await trickle;
  assert(sent < 255, "the frame was never completed");
  assert(sent >= 1, "bytes kept coming");
  closeQuietly(raw);
  assert(lostCodes(server.log).includes("frame-timeout"));
  await legitTcpEcho(server.listener.port, 4);
});

Deno.test("half-open flood: 200 silent connections close by first-byte-timeout", async () => {
  await using server = tcpServer({ firstByteTimeout: 300 });
  const raws = await Promise.all(
    Array.from({ length: 200 }, () => rawConnect(server.listener.port)),
  );
  await legitTcpEcho(server.listener.port, 5);
  await until(() => server.accepted.length >= 200, "accepts");
  // The legitimate client's own connection closed normally; the 200 silent ones timed out.
  const codes = await Promise.all(
    server.accepted.map((c) => closedWith(c, "first-byte-timeout", "connection-closed")),
  );
  assert.equal(codes.filter((c) => c === "first-byte-timeout").length, 200);
  await Promise.all(raws.map(readToEnd));
  raws.forEach(closeQuietly);
  await until(() => server.listener.connections.size === 0, "connections released");
  await legitTcpEcho(server.listener.port, 6);
});

Deno.test("past maxConnections an accepted connection is closed at once, with a warning", async () => {
  await using server = tcpServer({ maxConnections: 20, firstByteTimeout: 500 });
  const raws = await Promise.all(
    Array.from({ length: 20 }, () => rawConnect(server.listener.port)),
  );
  await until(() => server.listener.connections.size === 20, "20 slots taken");
  const extra = await Promise.all(
    Array.from({ length: 5 }, () => rawConnect(server.listener.port)),
  );
  // The server closed each extra connection without reading: EOF (or a reset), no byte.
  assert.deepEqual(await Promise.all(extra.map(readToEnd)), [0, 0, 0, 0, 0]);
  extra.forEach(closeQuietly);
  const refused = server.log.entries.filter((e) =>
    e.level === "warn" && e.message.includes("connection limit")
  );
  assert(refused.length >= 5);
  assert.equal(server.accepted.length, 20);
  // The slots free as the silent ones time out; then a legitimate client is served.
  await Promise.all(server.accepted.map((c) => closedWith(c, "first-byte-timeout")));
  raws.forEach(closeQuietly);
  await until(() => server.listener.connections.size === 0, "slots freed");
  await legitTcpEcho(server.listener.port, 7);
});

Deno.test("an idle connection closes by idle-timeout; a heartbeating one stays open", async () => {
  await using server = tcpServer({ idleTimeout: 400 });
  const raw = await rawConnect(server.listener.port);
  await raw.write(new Uint8Array([1])); // version byte, then nothing
  await until(() => server.accepted.length === 1, "accept");
  // A Sealroute client beats every `heartbeatInterval` ms (default 5 s; shrunk here), and
  // each heartbeat counts as received, so its link is never idle.
  await using client = new Node();
  const link = await connectTcp(client, `127.0.0.1:${server.listener.port}`, {
    heartbeatInterval: 100,
  });
  await closedWith(server.accepted[0]!, "idle-timeout");
  assert.equal(await readToEnd(raw), 1); // the server's version byte, then EOF
  closeQuietly(raw);
  assert(lostCodes(server.log).includes("idle-timeout"));
  // Three idle timeouts later the heartbeating link is still the one that serves.
  await new Promise((r) => setTimeout(r, 1200));
  const live = server.accepted[1]!;
  let liveClosed = false;
  void live.closed.then(() => liveClosed = true);
  const reply = await client.request(link.route.append("echo"), new Uint8Array([8]), {
    timeout: 10_000,
  });
  assert.equal(reply.payload[0], 8);
  assert(!liveClosed && server.listener.connections.has(live));
});

Deno.test("a client that floods 64 KiB echo requests and never reads closes by write-timeout", async () => {
  await using server = tcpServer({ writeTimeout: 300 });
  const raw = await rawConnect(server.listener.port);
  const wire = echoWire(new Uint8Array(64 * 1024).fill(9));
  await raw.write(wire.subarray(0, 1));
  const frame = wire.subarray(1);
  const total = 4096; // 256 MiB offered, far past what the server may hold for one peer
  let written = 0;
  const flood = (async () => {
    for (let i = 0; i < total; i++) {
      let at = 0;
      while (at < frame.length) {
        const n = await raw.write(frame.subarray(at)).catch(() => -1);
        if (n < 0) return;
        at += n;
      }
      written++;
    }
  })();
  await until(() => server.accepted.length === 1, "accept");
  await legitTcpEcho(server.listener.port, 10); // served during the flood
  await closedWith(server.accepted[0]!, "write-timeout");
  closeQuietly(raw);
  await flood;
  // Reads paused once the mailboxes (bounded in bytes) and the write buffer filled: the
  // server took only a bounded prefix of the flood before closing.
  assert(written < total, `the server read all ${written} requests`);
  assert(lostCodes(server.log).includes("write-timeout"));
  await until(() => server.listener.connections.size === 0, "connection released");
  await legitTcpEcho(server.listener.port, 11);
});

Deno.test("a return route of 125,000 addresses over TCP is refused without a crash", async () => {
  await using server = tcpServer();
  const raw = await rawConnect(server.listener.port);
  const body = longReturnRouteBody(125_000);
  const frame = encodeFrames([body]);
  await raw.write(new Uint8Array([1]));
  let at = 0;
  while (at < frame.length) at += await raw.write(frame.subarray(at));
  await until(() => server.accepted.length === 1, "accept");
  await closedWith(server.accepted[0]!, "bad-message");
  const lost = server.log.entries.find((e) => e.message === "connection lost");
  const cause = (lost?.fields?.reason as { cause?: { code?: string } }).cause;
  assert.equal(cause?.code, "route-too-long");
  await readToEnd(raw);
  closeQuietly(raw);
  await legitTcpEcho(server.listener.port, 12);
});

/**
 * Sends `[version, frame of body, a valid echo request carrying `marker`]` on a fresh raw
 * connection; returns "served" once the marker's echo comes back, or the code the server
 * closed the connection with.
 */
async function probe(
  server: ReturnType<typeof tcpServer>,
  body: Uint8Array,
  marker: number,
): Promise<string> {
  const before = server.accepted.length;
  const raw = await rawConnect(server.listener.port);
  const valid = encodeFrames([echoBody(new Uint8Array([0xee, marker >> 8, marker & 0xff]))]);
  const frame = encodeFrames([body]);
  const wire = new Uint8Array(1 + frame.length + valid.length);
  wire[0] = 1;
  wire.set(frame, 1);
  wire.set(valid, 1 + frame.length);
  await raw.write(wire);
  const decoder = new FrameDecoder();
  const buf = new Uint8Array(4096);
  let first = true;
  try {
    for (;;) {
      const n = await raw.read(buf).catch(() => null);
      if (n === null) break;
      let chunk = buf.subarray(0, n);
      if (first && chunk.length > 0) {
        assert.equal(chunk[0], 1);
        chunk = chunk.subarray(1);
        first = false;
      }
      for (const f of decoder.push(chunk)) {
        const p = decodeTcpMessage(f).payload;
        if (p.length === 3 && p[0] === 0xee && (p[1]! << 8 | p[2]!) === marker) return "served";
      }
    }
  } finally {
    closeQuietly(raw);
  }
  await until(() => server.accepted.length > before, "accept");
  return await closedWith(server.accepted[before]!, "bad-message");
}

Deno.test("every bit flip, truncation and extension of an echo frame gets a typed outcome", async () => {
  await using server = tcpServer();
  const body = echoBody(new Uint8Array([1, 2, 3]));
  const cases: Uint8Array[] = [];
  for (let bit = 0; bit < body.length * 8; bit++) {
    const flipped = body.slice();
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    cases.push(flipped);
  }
  for (let cut = 0; cut < body.length; cut++) cases.push(body.slice(0, cut));
  for (const extra of [[0], [0xff], [0x40], [0x83, 0x80, 0x80, 0x40]]) {
    const longer = new Uint8Array(body.length + extra.length);
    longer.set(body);
    longer.set(extra, body.length);
    cases.push(longer);
  }
  const outcomes = new Map<string, number>();
  for (let i = 0; i < cases.length; i++) {
    const outcome = await probe(server, cases[i]!, i);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    if (i % 50 === 0) await legitTcpEcho(server.listener.port, i & 0xff); // served during
  }
  // Every case is accounted for: either refused with a closed connection (bad-message) or
  // handled as a message (delivered, dropped with a logged reason, or a heartbeat) with the
  // connection still serving the valid request behind it.
  assert.equal([...outcomes.values()].reduce((a, b) => a + b, 0), cases.length);
  assert.deepEqual([...outcomes.keys()].sort(), ["bad-message", "served"]);
  // Truncations and extensions never decode: each closed its connection.
  assert(outcomes.get("bad-message")! >= body.length + 4);
  await legitTcpEcho(server.listener.port, 99);
});
