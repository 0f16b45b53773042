// Deno.bench for secure channels: handshakes end to end and messages through an open channel,
// in memory (two Nodes over memoryDuplexPair) and over TCP loopback.
//
//   npx -y deno@2.9.6 bench -A bench/channel_bench.ts
//
// The side-by-side comparison with @chainsafe/libp2p-noise and the WebCrypto floor/ceiling
// is bench/channel_vs_libp2p.ts; memory per channel is bench/channel_heap.ts.
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { RouteError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, type Route, startEcho } from "../routing/mod.ts";
import { attachDuplex, memoryDuplexPair } from "../transport/mod.ts";
import { connectTcp, listenTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";

interface Setup {
  client: Node;
  route: Route;
  /** Resolves once the listener has accepted `count` channels in all. */
  accepted(count: number): Promise<void>;
  count(): number;
  /** A channel kept open for the message benchmarks. */
  channel: SecureChannel;
  /** Resolves once the server's counting worker has seen `total` messages in all. */
  counted(total: number): Promise<void>;
  received(): number;
}

const clientIdentity = await createIdentity(new Vault());
const serverIdentity = await createIdentity(new Vault());

async function setup(kind: "memory" | "tcp"): Promise<Setup> {
  const client = new Node();
  const server = new Node();
  let route: Route;
  if (kind === "memory") {
    const [a, b] = memoryDuplexPair();
    route = attachDuplex(client, a).route.append("api");
    attachDuplex(server, b);
  } else {
    const listener = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
    route = (await connectTcp(client, `127.0.0.1:${listener.port}`)).route.append("api");
  }
  startEcho(server);
  let accepted = 0;
  let acceptWaiters: { n: number; resolve: () => void }[] = [];
  await createSecureChannelListener(server, "api", {
    identity: serverIdentity,
    onChannel: () => {
      accepted++;
      acceptWaiters = acceptWaiters.filter((w) => w.n <= accepted ? (w.resolve(), false) : true);
    },
  });
  let received = 0;
  let countWaiters: { n: number; resolve: () => void }[] = [];
  server.startWorker("counter", () => {
    received++;
    if (countWaiters.length > 0) {
      countWaiters = countWaiters.filter((w) => w.n <= received ? (w.resolve(), false) : true);
    }
  });
  const channel = await createSecureChannel(client, route, { identity: clientIdentity });
  const wait = (
    list: () => { n: number; resolve: () => void }[],
    current: () => number,
    n: number,
  ) =>
    current() >= n
      ? Promise.resolve()
      : new Promise<void>((resolve) => list().push({ n, resolve }));
  return {
    client,
    route,
    accepted: (n) => wait(() => acceptWaiters, () => accepted, n),
    count: () => accepted,
    channel,
    counted: (n) => wait(() => countWaiters, () => received, n),
    received: () => received,
  };
}

const memory = await setup("memory");
const tcp = await setup("tcp");

for (const [kind, s] of [["memory", memory], ["TCP loopback", tcp]] as const) {
  Deno.bench({
    name: `handshake end to end (identities, attestations, trust), ${kind}`,
    group: "handshake",
    baseline: kind === "memory",
    async fn(b) {
      const target = s.count() + 1;
      b.start();
      const channel = await createSecureChannel(s.client, s.route, { identity: clientIdentity });
      await s.accepted(target);
      b.end();
      await channel.close();
    },
  });
}

/** Sends `count` payloads through `channel` to the counter, retrying when its mailbox is full. */
async function sendAll(s: Setup, payload: Uint8Array, count: number): Promise<void> {
  const target = s.received() + count;
  for (let i = 0; i < count; i++) {
    try {
      await s.channel.send("counter", payload);
    } catch (error) {
      if (!(error instanceof RouteError) || error.code !== "mailbox-full") throw error;
      i--;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  await s.counted(target);
}

const small = new Uint8Array(64).fill(1);
const large = new Uint8Array(64 * 1024).fill(2);

for (const [kind, s] of [["memory", memory], ["TCP loopback", tcp]] as const) {
  Deno.bench({
    name: `64 B request/reply round trip through a channel, ${kind}`,
    group: "round trip",
    baseline: kind === "memory",
    async fn() {
      await s.channel.request("echo", small);
    },
  });
  Deno.bench({
    name: `1000 × 64 B one way through a channel, ${kind}`,
    group: "64 B one way",
    baseline: kind === "memory",
    async fn() {
      await sendAll(s, small, 1000);
    },
  });
  Deno.bench({
    name: `200 × 64 KiB one way through a channel, ${kind}`,
    group: "64 KiB one way",
    baseline: kind === "memory",
    async fn() {
      await sendAll(s, large, 200);
    },
  });
}
