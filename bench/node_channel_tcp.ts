// The secure channel one way over TCP loopback through the Node adapter (transport/node.ts,
// `node:net`), with the peer setup of bench/channel_vs_libp2p.ts's sealroute rows (two nodes,
// listenTcp + connectTcp, a channel with identities, channel.send to a counting worker,
// timed from the first send to the last arrival), plus the bare transport (routed messages
// over the same kind of connection, no channel) to show what the adapter itself costs.
// Runs unchanged on Node 20, Bun and Deno (no Deno.*):
//
//   npx -y deno@2.9.6 bundle --platform=node --outdir=/tmp/bench-node bench/node_channel_tcp.ts
//   node /tmp/bench-node/node_channel_tcp.js [--rounds=5] [--quick]
//   npx -y deno@2.9.6 run -A bench/node_channel_tcp.ts [--rounds=5] [--quick]
//
// The libp2p-noise rows stay in bench/channel_vs_libp2p.ts (Deno): its peer is loaded from
// files outside the package's exports, which a Node build does not carry.
import process from "node:process";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { RouteError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { type Logger, Node, RoutedMessage } from "../routing/mod.ts";
import { connectTcp, listenTcp } from "../transport/node.ts";
import { Vault } from "../vault/mod.ts";

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const QUICK = "quick" in args;
const ROUNDS = Number(args.rounds ?? (QUICK ? 3 : 5));
const SMALL_COUNT = QUICK ? 20_000 : 60_000;
const LARGE_COUNT = Number(args["large-count"] ?? 1_000);

const problems: string[] = [];
let shuttingDown = false;
const logger: Logger = {
  debug() {},
  info() {},
  warn(message) {
    if (!shuttingDown) problems.push(message);
  },
  error(message) {
    problems.push(message);
  },
};

interface Flow {
  messages: number;
  seconds: number;
  retries: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Sends `count` payloads with `send`, retrying on mailbox-full; waits for the last arrival. */
async function timed(
  count: number,
  send: () => Promise<unknown>,
  arrived: () => number,
  finished: Promise<void>,
): Promise<Flow> {
  let retries = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    try {
      await send();
    } catch (error) {
      if (!(error instanceof RouteError) || error.code !== "mailbox-full") throw error;
      retries++;
      i--;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  let last = -1;
  while (arrived() < count && arrived() !== last) {
    last = arrived();
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 3000))]);
  }
  const seconds = (performance.now() - start) / 1000;
  if (arrived() < count) {
    console.error(`stalled: ${arrived()} of ${count} arrived`);
    return { messages: arrived(), seconds: Infinity, retries };
  }
  return { messages: count, seconds, retries };
}

async function throughput(size: number, count: number, channel: boolean): Promise<Flow> {
  const client = new Node({ logger });
  const server = new Node({ logger });
  const listener = await listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const connection = await connectTcp(client, `127.0.0.1:${listener.port}`);
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => done = resolve);
  const payload = new Uint8Array(size).fill(1);
  let flow: Flow;
  if (channel) {
    const channels = await createSecureChannelListener(server, "api", {
      identity: await createIdentity(new Vault()),
      consumes: [listener.flow],
    });
    const secure = await createSecureChannel(client, connection.route.append("api"), {
      identity: await createIdentity(new Vault()),
    });
    server.startWorker("counter", () => {
      if (++got === count) done();
    }, { consumes: [channels.flow] });
    flow = await timed(count, () => secure.send("counter", payload), () => got, finished);
    shuttingDown = true;
    await secure.close();
  } else {
    server.startWorker("counter", () => {
      if (++got === count) done();
    }, { consumes: [listener.flow] });
    const onwardRoute = connection.route.append("counter");
    flow = await timed(
      count,
      () => client.deliver(new RoutedMessage({ onwardRoute, payload })),
      () => got,
      finished,
    );
    shuttingDown = true;
  }
  await listener.close();
  await client.close();
  await server.close();
  shuttingDown = false;
  return flow;
}

const versions = process.versions as Record<string, string | undefined>;
const runtime = versions.bun
  ? `Bun ${versions.bun}`
  : versions.deno
  ? `Deno ${versions.deno}`
  : `Node ${versions.node}`;
console.log(
  `${runtime}, V8 ${versions.v8 ?? "-"}, ${process.platform}/${process.arch}; ` +
    `median of ${ROUNDS} rounds; transport/node.ts (node:net)`,
);

const rows = new Map<string, { size: number; rates: number[]; retries: number }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [size, count] of [[64, SMALL_COUNT], [64 * 1024, LARGE_COUNT]] as const) {
    const label = size === 64 ? "64 B" : "64 KiB";
    for (const channel of [true, false]) {
      const name = channel
        ? `sealroute channel over TCP (node:net), ${label}`
        : `routed messages, no channel, over TCP (node:net), ${label}`;
      const flow = await throughput(size, count, channel);
      const row = rows.get(name) ?? { size, rates: [], retries: 0 };
      row.rates.push(flow.messages / flow.seconds);
      row.retries = flow.retries;
      rows.set(name, row);
    }
  }
  console.error(`round ${round + 1}/${ROUNDS} done`);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
console.log(
  `\n| one way, ${SMALL_COUNT} × 64 B / ${LARGE_COUNT} × 64 KiB | msgs/s (median) | MB/s | all rounds (msgs/s) |`,
);
console.log("|---|---:|---:|---|");
for (const [name, row] of rows) {
  const r = median(row.rates);
  console.log(
    `| ${name} (${row.retries} mailbox-full retries, last round) | ${fmt(r)} | ${
      (r * row.size / 1e6).toFixed(1)
    } | ${row.rates.map(fmt).join(" ")} |`,
  );
}
if (problems.length > 0) {
  console.log(`\nnodes logged ${problems.length} warnings/errors, first: ${problems[0]}`);
}
process.exit(0);
