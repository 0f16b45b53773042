// Routed throughput between two nodes over TCP and WebSocket loopback, next to raw
// Deno.connect throughput measured in the same run.
//
//   npx -y deno@2.9.6 run -A bench/transport_bench.ts [--quick]
import { Node, RoutedMessage } from "../routing/mod.ts";
import { connectWebSocket } from "../transport/mod.ts";
import { connectTcp, listenTcp, webSocketHandler } from "../transport/deno.ts";

const quick = Deno.args.includes("--quick");
const SMALL = 64;
const LARGE = 64 * 1024;
const SMALL_COUNT = quick ? 50_000 : 300_000;
const LARGE_COUNT = quick ? 2_000 : 10_000;

interface Result {
  name: string;
  size: number;
  count: number;
  seconds: number;
}

const perSecond = (r: Result) => r.count / r.seconds;
const mbPerSecond = (r: Result) => (r.count * r.size) / r.seconds / 1e6;

/** Raw TCP: one 4-byte length + payload write per message (like an unbatched framed sender). */
async function rawTcp(size: number, count: number, batched: boolean): Promise<Result> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const total = count * (size + 4);
  const accepted = (async () => {
    const conn = await listener.accept();
    let got = 0;
    const buf = new Uint8Array(256 * 1024);
    while (got < total) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    conn.close();
    return got;
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  conn.setNoDelay(true);
  const frame = new Uint8Array(size + 4);
  new DataView(frame.buffer).setUint32(0, size);
  const start = performance.now();
  const writer = conn.writable.getWriter();
  if (batched) {
    const per = Math.max(1, Math.floor((256 * 1024) / frame.length));
    const chunk = new Uint8Array(per * frame.length);
    for (let i = 0; i < per; i++) chunk.set(frame, i * frame.length);
    let sent = 0;
    while (sent < count) {
      const n = Math.min(per, count - sent);
      await writer.write(n === per ? chunk : chunk.subarray(0, n * frame.length));
      sent += n;
    }
  } else {
    for (let i = 0; i < count; i++) await writer.write(frame);
  }
  const got = await accepted;
  const seconds = (performance.now() - start) / 1000;
  await writer.close().catch(() => {});
  listener.close();
  if (got !== total) throw new Error(`raw TCP: expected ${total} bytes, got ${got}`);
  return {
    name: batched ? "raw TCP (coalesced writes)" : "raw TCP (one write per frame)",
    size,
    count,
    seconds,
  };
}

async function routed(kind: "TCP" | "WebSocket", size: number, count: number): Promise<Result> {
  const server = new Node({ mailboxCapacity: 4096 });
  const client = new Node({ mailboxCapacity: 4096 });
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => done = r);
  server.startWorker("sink", () => {
    if (++got === count) done();
  });
  let shutdown: () => Promise<void>;
  let route;
  if (kind === "TCP") {
    const listener = listenTcp(server);
    const conn = await connectTcp(client, `127.0.0.1:${listener.port}`);
    route = conn.route.append("sink");
    shutdown = async () => {
      await client.close();
      await server.close();
    };
  } else {
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      webSocketHandler(server),
    );
    const conn = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
    route = conn.route.append("sink");
    shutdown = async () => {
      await client.close();
      await server.close();
      await http.shutdown();
    };
  }
  const payload = new Uint8Array(size).fill(1);
  const message = new RoutedMessage({ onwardRoute: route, payload });
  const start = performance.now();
  for (let i = 0; i < count; i++) await client.deliver(message);
  await finished;
  const seconds = (performance.now() - start) / 1000;
  await shutdown();
  return { name: `routed ${kind}`, size, count, seconds };
}

if (import.meta.main) {
  // `deno run`: the full side-by-side table.
  const results: Result[] = [];
  for (const size of [SMALL, LARGE]) {
    const count = size === SMALL ? SMALL_COUNT : LARGE_COUNT;
    results.push(await rawTcp(size, count, false));
    results.push(await rawTcp(size, count, true));
    results.push(await routed("TCP", size, count));
    results.push(await routed("WebSocket", size, quick ? count / 2 : count));
  }

  const lines = [
    `Deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
    "",
    "| path | message | messages | msgs/s | MB/s | vs raw TCP (one write per frame) |",
    "|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const raw = results.find((x) =>
      x.size === r.size && x.name === "raw TCP (one write per frame)"
    )!;
    const ratio = perSecond(r) / perSecond(raw);
    lines.push(
      `| ${r.name} | ${r.size === SMALL ? "64 B" : "64 KiB"} | ${r.count} | ${
        Math.round(perSecond(r)).toLocaleString("en")
      } | ${mbPerSecond(r).toFixed(1)} | ${ratio.toFixed(2)}x |`,
    );
  }
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
} else {
  // `deno bench` (task bench): the routed paths alone, small counts.
  for (const kind of ["TCP", "WebSocket"] as const) {
    Deno.bench(`routed ${kind}, 5,000 × 64 B one way`, async () => {
      await routed(kind, SMALL, 5_000);
    });
    Deno.bench(`routed ${kind}, 200 × 64 KiB one way`, async () => {
      await routed(kind, LARGE, 200);
    });
  }
}
