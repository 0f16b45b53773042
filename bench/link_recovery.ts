// Links that heal, measured (issue 13):
// 1. Recovery: a secure channel over a reconnecting TCP link (default backoff options), the
//    server drops the connection; time from the link being back ("connected") to the first
//    echo reply through the same channel, and from the cut to that reply. Median over cuts.
// 2. Heartbeat overhead: bytes per minute both ways on an idle link with the default
//    heartbeat interval, counted on the wire of an in-memory duplex (TCP framing).
//
//   npx -y deno@2.9.6 run -A bench/link_recovery.ts [--cuts 30] [--idle-seconds 60]
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, startEcho } from "../routing/mod.ts";
import { attachDuplex, type Duplex, memoryDuplexPair } from "../transport/mod.ts";
import { listenTcp, reconnectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}
const cuts = arg("cuts", 30);
const idleSeconds = arg("idle-seconds", 60);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function recovery(): Promise<void> {
  await using server = new Node();
  await using client = new Node();
  const tcp = listenTcp(server);
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [tcp.flow],
  });
  startEcho(server, { consumes: [listener.flow] });
  await using link = await reconnectTcp(client, `127.0.0.1:${tcp.port}`);
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  await channel.request("echo", new Uint8Array([0]));
  const fromBack: number[] = [];
  const fromCut: number[] = [];
  for (let i = 0; i < cuts; i++) {
    const back = new Promise<number>((resolve) => {
      const off = link.on((e) => {
        if (e.type === "connected") {
          off();
          resolve(performance.now());
        }
      });
    });
    const cutAt = performance.now();
    for (const c of tcp.connections) await c.close();
    const backAt = await back;
    await channel.request("echo", new Uint8Array([1]), { timeout: 10_000 });
    const done = performance.now();
    fromBack.push(done - backAt);
    fromCut.push(done - cutAt);
  }
  console.log(
    `recovery over ${cuts} cuts (default backoff: 100 ms initial, full jitter): ` +
      `link back → first reply median ${median(fromBack).toFixed(2)} ms ` +
      `(max ${Math.max(...fromBack).toFixed(2)}); cut → first reply median ` +
      `${median(fromCut).toFixed(1)} ms (max ${Math.max(...fromCut).toFixed(1)})`,
  );
  await channel.close();
}

function counted(inner: Duplex, count: (n: number) => void): Duplex {
  const tap = () =>
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        count(chunk.length);
        controller.enqueue(chunk);
      },
    });
  const out = tap();
  void out.readable.pipeTo(inner.writable).catch(() => {});
  return {
    readable: inner.readable.pipeThrough(tap()),
    writable: out.writable,
    close: () => inner.close(),
  };
}

async function heartbeats(): Promise<void> {
  await using a = new Node();
  await using b = new Node();
  let bytes = 0;
  const [x, y] = memoryDuplexPair();
  attachDuplex(a, counted(x, (n) => bytes += n));
  attachDuplex(b, y);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const start = bytes;
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const perMinute = ((bytes - start) / idleSeconds) * 60;
  console.log(
    `heartbeats on an idle link (default 5 s interval), both directions, over ${idleSeconds} s: ` +
      `${perMinute.toFixed(0)} bytes/min`,
  );
}

await recovery();
await heartbeats();
