// Store-and-forward at the relay, measured (issue 14): how long a device that comes back
// online takes to receive 1,000 frames queued for it (from the gate opening to the last one
// delivered to its worker, median of 5 rounds), and the heap a queued frame costs at the relay
// (in-memory queue, 10,000 frames of 64 B payload through a real channel, with and without).
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/relay_queue_bench.ts
import { RelayQueue } from "../routing/mod.ts";
import { stack, until } from "../tests/_relay_stack.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const heap = () => {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage().heapUsed;
};

async function recovery(queued: number): Promise<number> {
  const s = await stack(new RelayQueue({ maxPerName: queued + 10 }));
  try {
    await s.offline();
    for (let i = 0; i < queued; i++) await s.send(`q${i}`);
    await until(() => s.queue.size("forward_to_sensor") === queued, "queued", 60_000);
    const start = performance.now();
    s.gate.up();
    await until(() => s.received.length === queued, "delivered", 60_000);
    return performance.now() - start;
  } finally {
    await s.close();
  }
}

async function heapPerFrame(frames: number): Promise<{ perFrame: number; queueBytes: number }> {
  const s = await stack(new RelayQueue({ maxPerName: frames + 10 }));
  try {
    await s.offline();
    const payload = "x".repeat(64);
    const before = heap();
    for (let i = 0; i < frames; i++) await s.send(payload);
    await until(() => s.queue.size("forward_to_sensor") === frames, "queued", 60_000);
    const after = heap();
    return { perFrame: (after - before) / frames, queueBytes: s.queue.bytes / frames };
  } finally {
    await s.close();
  }
}

const times: number[] = [];
for (let round = 0; round < 5; round++) times.push(await recovery(1000));
const memory = await heapPerFrame(10_000);
console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
  }`,
);
console.log(`| measure | value |`);
console.log(`|---|---:|`);
console.log(
  `| device back online → 1,000 queued frames delivered, median of 5 (ms) | ${
    median(times).toFixed(0)
  } |`,
);
console.log(`| all rounds (ms) | ${times.map((t) => t.toFixed(0)).join(" ")} |`);
console.log(
  `| relay heap per queued frame, 64 B payload (bytes) | ${memory.perFrame.toFixed(0)} |`,
);
console.log(`| of which the stored frame itself (bytes) | ${memory.queueBytes.toFixed(0)} |`);
