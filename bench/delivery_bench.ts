// Reliable delivery throughput next to plain channel delivery, same run, same channel setup:
// two Nodes over memoryDuplexPair, a secure channel between them, messages of 64 B and 64 KiB.
//
//   npx -y deno@2.9.6 run -A bench/delivery_bench.ts [--rounds 3]
//
// plain: `channel.send` to a counting worker, timed until the last one arrived.
// reliable: `reliable(...).send` (exactly-once, until "delivered") to a receiver whose
// onMessage counts, timed until every send resolved (the last acknowledgement is back).
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { type DeliveryLevel, reliable, startDeliveryReceiver } from "../delivery/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node } from "../routing/mod.ts";
import { attachDuplex, memoryDuplexPair } from "../transport/mod.ts";
import { Vault } from "../vault/mod.ts";

const rounds = Number(Deno.args[Deno.args.indexOf("--rounds") + 1] || 3);

interface Pair {
  client: Node;
  server: Node;
  channel: SecureChannel;
  received: () => number;
  arrived: (n: number) => Promise<void>;
}

async function pair(): Promise<Pair> {
  const client = new Node();
  const server = new Node();
  const [a, b] = memoryDuplexPair();
  const link = attachDuplex(client, a);
  const serverFlow = server.flowControls.createFlow();
  attachDuplex(server, b, { spawner: serverFlow });
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [serverFlow],
  });
  let received = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  const count = () => {
    received++;
    if (waiter && received >= waiter.n) waiter.resolve();
  };
  server.startWorker("counter", count, { consumes: [listener.flow] });
  startDeliveryReceiver(server, "inbox", { consumes: [listener.flow], onMessage: count });
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  return {
    client,
    server,
    channel,
    received: () => received,
    arrived: (n) =>
      received >= n ? Promise.resolve() : new Promise<void>((resolve) => waiter = { n, resolve }),
  };
}

async function plain(p: Pair, size: number, count: number): Promise<number> {
  const payload = new Uint8Array(size);
  const target = p.received() + count;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await p.channel.send("counter", payload);
  await p.arrived(target);
  return performance.now() - t0;
}

async function delivered(
  p: Pair,
  size: number,
  count: number,
  level: DeliveryLevel,
): Promise<number> {
  const payload = new Uint8Array(size);
  const sender = reliable(p.client, p.channel, { to: "inbox", level });
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) pending.push(sender.send(payload));
  await Promise.all(pending);
  if (level === "none") await p.arrived(p.received()); // sends resolve on hand-off
  const ms = performance.now() - t0;
  await sender.close();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const p = await pair();
const rows: string[] = [];
for (const [size, count] of [[64, 20_000], [65_536, 1_000]] as const) {
  await plain(p, size, Math.min(count, 2000)); // warm up
  await delivered(p, size, Math.min(count, 2000), "exactly-once");
  const plainMs: number[] = [];
  const reliableMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plainMs.push(await plain(p, size, count));
    reliableMs.push(await delivered(p, size, count, "exactly-once"));
  }
  const rate = (ms: number) => count / (ms / 1000);
  const mb = (ms: number) => (count * size) / (ms / 1000) / (1024 * 1024);
  const pm = median(plainMs);
  const rm = median(reliableMs);
  rows.push(
    `| ${size === 64 ? "64 B" : "64 KiB"} | ${count} | ${Math.round(rate(pm))} msg/s, ${
      mb(pm).toFixed(1)
    } MiB/s | ${Math.round(rate(rm))} msg/s, ${mb(rm).toFixed(1)} MiB/s | ${
      (pm / rm).toFixed(2)
    }× |`,
  );
}
console.log(`rounds: ${rounds} (median), Deno ${Deno.version.deno}`);
console.log("| size | messages | plain channel | reliable (exactly-once, delivered) | ratio |");
console.log("| ---- | -------: | ------------- | ---------------------------------- | ----: |");
for (const row of rows) console.log(row);
await p.channel.close();
await p.client.close();
await p.server.close();
