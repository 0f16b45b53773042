import assert from "node:assert/strict";
import { TransportError } from "../errors.ts";
import { encodeTcpMessage, Node, RoutedMessage, startEcho } from "../routing/mod.ts";
import { encodeFrames } from "./framing.ts";
import { attachDuplex, type AttachOptions, type Connection } from "./connection.ts";
import { type Duplex, memoryDuplexPair } from "./duplex.ts";
import { type FaultDuplex, faultDuplex } from "./fault_duplex.ts";
import { type LinkEvent, reconnectingLink } from "./reconnecting_link.ts";
import { until } from "./_helpers_test.ts";

/**
 * A server node with echo, and `connect`: a new in-memory connection to it, the client's
 * end passed through `wrap` (a fault duplex) and attached with the link's options.
 */
function server(wrap: (d: Duplex) => Duplex = (d) => d) {
  const node = new Node();
  const flow = node.flowControls.createFlow({ label: "server" });
  startEcho(node, { consumes: [flow] });
  let dials = 0;
  const faults: FaultDuplex[] = [];
  const connect = (client: Node, how: AttachOptions): Connection => {
    dials++;
    const [a, b] = memoryDuplexPair();
    attachDuplex(node, b, { spawner: flow, heartbeatInterval: 10 });
    const wrapped = wrap(a);
    if ("stall" in wrapped) faults.push(wrapped as FaultDuplex);
    return attachDuplex(client, wrapped, how);
  };
  return { node, faults, connect, dials: () => dials };
}

/** One TCP heartbeat frame: a u32 length and a CBOR message with empty routes. */
const HEARTBEAT_BYTES =
  encodeFrames([encodeTcpMessage(new RoutedMessage({ onwardRoute: [] }))]).length;

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
}

Deno.test("a silent link (bytes held, never closed) is declared dead within its time and redialled", async () => {
  const s = server((d) => faultDuplex(d, { seed: 1 }));
  await using client = new Node();
  const events: LinkEvent[] = [];
  const link = await reconnectingLink(client, (how) =>
    Promise.resolve(s.connect(client, {
      ...how,
      heartbeatInterval: 20,
      deadAfter: 150,
      expectHeartbeats: true,
    })), { initialDelay: 5, peer: "server" });
  link.on((e) => events.push(e));
  const first = await client.request(link.route.append("echo"), new Uint8Array([1]), {
    timeout: 2000,
  });
  assert.equal(first.payload[0], 1);
  const stalledAt = Date.now();
  s.faults[0]!.stall();
  await until(() => events.some((e) => e.type === "lost"), 3000);
  const detectedAfter = Date.now() - stalledAt;
  const lost = events.find((e) => e.type === "lost") as Extract<LinkEvent, { type: "lost" }>;
  assert.ok(lost.reason instanceof TransportError && lost.reason.code === "dead-link");
  // Not before the dead-link time (150 ms, less timer granularity).
  assert.ok(detectedAfter >= 140, `${detectedAfter} ms`);
  await until(() => link.reconnects === 1);
  const again = await client.request(link.route.append("echo"), new Uint8Array([2]), {
    timeout: 2000,
  });
  assert.equal(again.payload[0], 2);
  assert.equal(s.dials(), 2);
  await link.close();
  await s.node.close();
});

Deno.test("reconnects back off with full jitter, report each attempt, and give up with gave-up", async () => {
  const s = server();
  await using client = new Node();
  let fail = false;
  const link = await reconnectingLink(client, (how) => {
    if (fail) return Promise.reject(new TransportError("connect-failed", "refused"));
    return Promise.resolve(s.connect(client, how));
  }, { initialDelay: 8, maxDelay: 40, maxAttempts: 6, random: seeded(3), peer: "server" });
  const events: LinkEvent[] = [];
  link.on((e) => events.push(e));
  fail = true;
  const [conn] = [...s.node.workerAddresses()].filter((a) => a.toString() !== "echo");
  await s.node.stopWorker(conn!, new TransportError("connection-closed", "server hung up"));
  const reason = await link.closed;
  assert.ok(reason instanceof TransportError && reason.code === "gave-up", String(reason));
  const attempts = events.filter((e) => e.type === "reconnecting") as Extract<
    LinkEvent,
    { type: "reconnecting" }
  >[];
  assert.deepEqual(attempts.map((e) => e.attempt), [1, 2, 3, 4, 5, 6]);
  attempts.forEach((e, i) => {
    const bound = Math.min(40, 8 * 2 ** i);
    assert.ok(e.delay >= 0 && e.delay < bound, `attempt ${e.attempt}: ${e.delay} < ${bound}`);
  });
  assert.deepEqual(events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]), [
    "lost",
    "reconnecting",
    "gave-up",
  ]);
  await assert.rejects(
    client.send(link.route.append("echo"), new Uint8Array()),
    (e) => (e as { code: string }).code === "unknown-address",
  );
  await s.node.close();
});

Deno.test("what is sent while the link is down waits in a bounded queue and flows when it is back", async () => {
  const s = server();
  await using client = new Node();
  let hold: Promise<void> | undefined = undefined;
  const link = await reconnectingLink(client, async (how) => {
    await hold;
    return s.connect(client, how);
  }, { initialDelay: 1, maxQueued: 8, peer: "server" });
  let release!: () => void;
  hold = new Promise((r) => release = r);
  const seen: number[] = [];
  client.startWorker("inbox", (ctx) => void seen.push(ctx.message.payload[0]!), {
    consumes: [link.flow],
  });
  const lost = new Promise((r) => link.on((e) => e.type === "lost" && r(e)));
  for (const c of s.node.workerAddresses()) {
    if (c.toString() !== "echo") await s.node.stopWorker(c, new TransportError("x", "cut"));
  }
  await lost;
  // Down: eight wait (one of them already taken by the link's worker), then the queue is full.
  let refused = 0;
  for (let i = 0; i < 12; i++) {
    await client.send(link.route.append("echo"), new Uint8Array([i]), {
      returnRoute: ["inbox"],
    }).catch((e) => {
      assert.equal(e.code, "mailbox-full");
      refused++;
    });
  }
  assert.ok(refused >= 3 && refused <= 4, `${refused} refused`);
  release();
  await until(() => seen.length === 12 - refused);
  assert.deepEqual(seen, [...Array(12 - refused).keys()]);
  await link.close();
  await s.node.close();
});

Deno.test("heartbeats keep an idle link alive and cost a few bytes per interval", async () => {
  const [a, b] = memoryDuplexPair();
  let bytes = 0;
  const counting: Duplex = {
    readable: a.readable,
    writable: new WritableStream({
      async write(chunk) {
        bytes += chunk.length;
        const w = a.writable.getWriter();
        await w.write(chunk);
        w.releaseLock();
      },
    }),
    close: () => a.close(),
  };
  await using one = new Node();
  await using two = new Node();
  const ab = attachDuplex(one, counting, {
    heartbeatInterval: 20,
    deadAfter: 100,
    expectHeartbeats: true,
  });
  const ba = attachDuplex(two, b, {
    heartbeatInterval: 20,
    deadAfter: 100,
    expectHeartbeats: true,
  });
  await new Promise((r) => setTimeout(r, 400));
  // Both still up well past the dead-link time, kept alive by heartbeats alone.
  const race = await Promise.race([ab.closed, new Promise((r) => setTimeout(() => r("open"), 1))]);
  assert.equal(race, "open");
  const frame = HEARTBEAT_BYTES;
  const beats = (bytes - 1) / frame; // the version byte, then heartbeat frames only
  assert.ok(Number.isInteger(beats) && beats >= 10 && beats <= 25, `${bytes} bytes`);
  await ab.close();
  await ba.close();
});
