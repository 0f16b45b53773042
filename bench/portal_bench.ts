// Portal throughput and connection setup, one run, printed as a Markdown table:
//   npx -y deno@2.9.6 run --allow-all bench/portal_bench.ts [--mib 64] [--connections 50]
//     [--window KIB]   (the portal's flow-control window; default 256)
// 1. direct loopback TCP (client → sink service);
// 2. the same bytes through a portal: inlet → client's secure channel → relay node (with a
//    recording hop) → device's outlet → sink service (tests/_portal_stack.ts, one process);
// 3. the same bytes sent as channel messages (48 KiB each) to a sink worker on the device;
// 4. connection setup: from the client's connect() at the inlet to the first byte read at
//    the service (Ping, dial, Pong, first Payload), sequential connections.
import { parseArgs } from "node:util";
import { portalStack } from "../tests/_portal_stack.ts";
import { MAX_PORTAL_PAYLOAD_SIZE } from "../portal/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "64" },
    connections: { type: "string", default: "50" },
    window: { type: "string" },
  },
});
const total = Number(values.mib) * 1024 * 1024;
const setups = Number(values.connections);

/** A service that counts what it reads; `first` resolves on each connection's first byte. */
function sink(onFirst: () => void, onBytes: (n: number) => void): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(256 * 1024);
        let first = true;
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          if (first) {
            first = false;
            onFirst();
          }
          onBytes(n);
        }
        conn.close();
      })();
    }
  })().catch(() => {});
  return listener;
}

let counted = 0;
let target = Infinity;
let reached: (() => void) | undefined;
let firstByte: (() => void) | undefined;
const service = sink(() => firstByte?.(), (n) => {
  counted += n;
  if (counted >= target) reached?.();
});

/** Writes `total` bytes to `port` and resolves with MB/s once the sink has them all. */
async function throughput(port: number): Promise<number> {
  counted = 0;
  target = total;
  const done = new Promise<void>((resolve) => reached = resolve);
  const started = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunk = new Uint8Array(256 * 1024).fill(0x61);
  for (let sent = 0; sent < total; sent += chunk.length) {
    let at = 0;
    while (at < chunk.length) at += await conn.write(chunk.subarray(at));
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  conn.close();
  return total / 1e6 / seconds;
}

const direct = await throughput(service.addr.port);
await using stack = await portalStack({
  to: `127.0.0.1:${service.addr.port}`,
  ...(values.window ? { window: Number(values.window) * 1024 } : {}),
});
await throughput(stack.inlet.port); // warm-up
const portal = await throughput(stack.inlet.port);

// The same bytes as channel messages to a sink worker on the device.
let got = 0;
let allIn: (() => void) | undefined;
stack.device.node.startWorker("sink", (ctx) => {
  got += ctx.message.payload.length;
  if (got >= total) allIn?.();
}, { consumes: [stack.device.listener.flow] });
const messages = await (async () => {
  const done = new Promise<void>((resolve) => allIn = resolve);
  const channel = stack.client.session.channel;
  const started = performance.now();
  for (let sent = 0; sent < total; sent += MAX_PORTAL_PAYLOAD_SIZE) {
    await channel.send("sink", new Uint8Array(MAX_PORTAL_PAYLOAD_SIZE).fill(0x62));
  }
  await done;
  return total / 1e6 / ((performance.now() - started) / 1000);
})();

// Connection setup: connect() at the inlet → first byte read at the service.
const times: number[] = [];
for (let i = 0; i < setups; i++) {
  const first = new Promise<void>((resolve) => firstByte = resolve);
  const started = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
  await conn.write(new Uint8Array([1]));
  await first;
  times.push(performance.now() - started);
  conn.close();
}
times.sort((a, b) => a - b);
const pick = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
service.close();

console.log(`| path (${values.mib} MiB, one direction) | MB/s |`);
console.log(`|---|---:|`);
console.log(`| direct loopback TCP | ${direct.toFixed(0)} |`);
console.log(`| portal: inlet → channel → relay → outlet | ${portal.toFixed(0)} |`);
console.log(`| same bytes as 48 KiB channel messages | ${messages.toFixed(0)} |`);
console.log("");
console.log(
  `connection setup (connect at the inlet → first byte at the service), ${setups} ` +
    `sequential: median ${pick(0.5).toFixed(2)} ms, p90 ${pick(0.9).toFixed(2)} ms, ` +
    `max ${times.at(-1)!.toFixed(2)} ms`,
);
console.log(`relay recording hop: ${stack.seen.frames} frames, ${stack.seen.bytes} bytes`);
