// Memory per idle secure channel, next to the memory of the two AES-256-GCM CryptoKeys a
// channel end holds, each measured in a fresh process of this same run.
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/channel_heap.ts [--channels=10000]
//
// Sections (each a child process, so one cannot skew another's heap):
//   keys        2 × N AES-256-GCM CryptoKeys (importKey raw, non-extractable, as the vault
//               imports them): the floor of N channel ends.
//   crypto      N ends' transport state without routing: 2 CipherStates + Encryptor +
//               Decryptor each (what a SecureChannel holds of cryptography).
//   workers     2 × N bare routing workers (a channel end registers an encryptor and a
//               decryptor worker).
//   channels    N complete channels, both ends in this process: two Nodes over
//               memoryDuplexPair, createSecureChannel against a listener, then idle.
//
// Each figure is (after − before) / N after forcing full GCs (globalThis.gc, three times
// with turns of the event loop between). heapUsed is the V8 JS heap; ArrayBuffer backing
// stores (key bytes, replay-window bitmaps) are in `external`; rss is the whole process.
import { CipherState, Decryptor, Encryptor } from "../channel/mod.ts";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { Address, Node } from "../routing/mod.ts";
import { attachDuplex, memoryDuplexPair } from "../transport/mod.ts";
import { Vault } from "../vault/mod.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const N = Number(args.channels ?? 10_000);
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  heapUsed: number;
  external: number;
  rss: number;
}

async function settle(): Promise<Sample> {
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
  }
  const { heapUsed, external, rss } = Deno.memoryUsage();
  return { heapUsed, external, rss };
}

function perItem(before: Sample, after: Sample, count: number): Sample {
  return {
    heapUsed: (after.heapUsed - before.heapUsed) / count,
    external: (after.external - before.external) / count,
    rss: (after.rss - before.rss) / count,
  };
}

async function measureKeys(): Promise<Sample> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const algorithm = { name: "AES-GCM", length: 256 };
  // Warm the code paths before the baseline.
  for (let i = 0; i < 100; i++) {
    await crypto.subtle.importKey("raw", raw, algorithm, false, ["encrypt", "decrypt"]);
  }
  const keys: CryptoKey[] = new Array(2 * N);
  const before = await settle();
  for (let i = 0; i < 2 * N; i++) {
    raw[0] = i & 0xff;
    keys[i] = await crypto.subtle.importKey("raw", raw, algorithm, false, ["encrypt", "decrypt"]);
  }
  const after = await settle();
  if (keys.length !== 2 * N) throw new Error("keys");
  return perItem(before, after, N); // per channel end: two keys
}

async function measureCrypto(): Promise<Sample> {
  const raw = () => crypto.getRandomValues(new Uint8Array(32));
  const ends: [Encryptor, Decryptor][] = new Array(N);
  for (let i = 0; i < 100; i++) {
    new Decryptor(await CipherState.create("AESGCM", raw()));
  }
  const before = await settle();
  for (let i = 0; i < N; i++) {
    ends[i] = [
      new Encryptor(await CipherState.create("AESGCM", raw())),
      new Decryptor(await CipherState.create("AESGCM", raw())),
    ];
  }
  const after = await settle();
  if (ends.length !== N) throw new Error("ends");
  return perItem(before, after, N);
}

async function measureWorkers(): Promise<Sample> {
  const node = new Node();
  const handler = () => {};
  for (let i = 0; i < 100; i++) await node.stopWorker(node.startWorker(Address.random(), handler));
  const before = await settle();
  for (let i = 0; i < 2 * N; i++) node.startWorker(Address.random(), handler);
  const after = await settle();
  await node.close();
  return perItem(before, after, N); // per channel end: two workers
}

async function measureChannels(): Promise<Sample & { perChannel: Sample }> {
  const client = new Node();
  const server = new Node();
  const [a, b] = memoryDuplexPair();
  const route = attachDuplex(client, a).route.append("api");
  // The listener consumes the link's flow, or the link's messages may not reach it.
  const incoming = attachDuplex(server, b);
  let accepted = 0;
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [incoming.flow],
    onChannel: () => accepted++,
  });
  const identity = await createIdentity(new Vault());
  const open = async (count: number) => {
    const channels: SecureChannel[] = [];
    const target = accepted + count;
    for (let i = 0; i < count; i += 16) {
      const batch = Math.min(16, count - i);
      channels.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => createSecureChannel(client, route, { identity })),
        ),
      );
    }
    while (accepted < target) await new Promise((resolve) => setTimeout(resolve, 10));
    return channels;
  };
  // Warm up: open and close some, so code, caches and maps exist before the baseline.
  for (const channel of await open(200)) await channel.close();
  while (listener.channels.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const before = await settle();
  const channels = await open(N);
  const after = await settle();
  if (channels.length !== N || listener.channels.size !== N) throw new Error("channels");
  const perChannel = perItem(before, after, N);
  for (let i = 0; i < N; i += 256) {
    await Promise.all(channels.slice(i, i + 256).map((c) => c.close()));
  }
  await client.close();
  await server.close();
  return {
    perChannel,
    heapUsed: perChannel.heapUsed / 2,
    external: perChannel.external / 2,
    rss: perChannel.rss / 2,
  };
}

const sections = {
  keys: measureKeys,
  crypto: measureCrypto,
  workers: measureWorkers,
  channels: measureChannels,
} as const;

if (args.measure) {
  const result = await sections[args.measure as keyof typeof sections]();
  console.log(JSON.stringify(result));
} else {
  const self = new URL(import.meta.url).pathname;
  const results: Record<string, Sample> = {};
  for (const name of Object.keys(sections)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", self, `--measure=${name}`, `--channels=${N}`],
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`section ${name} failed`);
    results[name] = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  }
  const kb = (bytes: number) => (bytes / 1000).toFixed(2);
  const floor = results.keys!.heapUsed;
  console.log(
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; N = ${N}; per channel END (one side), ` +
      `each row its own process\n`,
  );
  console.log("| what (per channel end) | heapUsed KB | × 2-key floor | external KB | rss KB |");
  console.log("|---|---:|---:|---:|---:|");
  const label: Record<string, string> = {
    keys: "2 AES-256-GCM CryptoKeys (the floor)",
    crypto: "transport crypto state: 2 CipherStates + Encryptor + Decryptor",
    workers: "2 bare routing workers",
    channels: "idle SecureChannel end (complete channels ÷ 2)",
  };
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${label[name]} | ${kb(r.heapUsed)} | ${(r.heapUsed / floor).toFixed(2)} | ${
        kb(r.external)
      } | ${kb(r.rss)} |`,
    );
  }
}
