// A relay fleet on NATS, measured (issue 19). One run; rounds alternate; medians.
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/fleet_bench.ts [--rounds 3]
//
// Setup: a 3-node NATS JetStream cluster (tests/nats/cluster.ts, R3 buckets and stream) and
// relays as subprocesses (`cli/main.ts relay --nats … --fleet-name …`); devices and clients
// run in this process (cli/_device.ts, cli/_client.ts), over loopback TCP.
//
// 1. Path: a device on relay a; one client on a (one relay, fleet mode: the name is held
//    locally) and one on b (two relays: b → NATS link → a). Rate: `channel.send` of N frames
//    to a counting worker on the device, timed until the last arrived. Latency: sequential
//    request/reply to the device's `echo`, p50/p99.
// 2. Load: 30 devices and 30 clients spread over K = 1, 2, 3 relays (device i on relay i mod
//    K, client i on relay (i + ⌊i/K⌋) mod K), all clients sending at once; aggregate frames
//    per second arriving at the devices, and the CPU each process used.
// 3. Failover: a device reaches relay a through a TCP proxy; clients sit on b and c. Relay a
//    gets SIGKILL; at that moment the proxy is re-pointed at b (what a device with a relay
//    list does on its next dial). Measured: from the kill to the device registered at b, and
//    to the first echo reply at each client (probes every 20 ms, each with a 2 s timeout).
import { type Device, startDevice } from "../cli/_device.ts";
import { type Client, connectToDevice } from "../cli/_client.ts";
import { createIdentity } from "../identity/mod.ts";
import { Vault } from "../vault/mod.ts";
import { ensureNatsServer, type NatsCluster, startNatsCluster } from "../tests/nats/cluster.ts";

/** Device and client links: heartbeats every second, dead after 3 s, redial within 100 ms. */
export const LINK = { heartbeatInterval: 1000, deadAfter: 3000, maxDelay: 100 };
const ROOT = new URL("..", import.meta.url).pathname;

export const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? NaN;
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A 3-node cluster; tried twice, as a free port picked may be taken before the node binds. */
export async function cluster(): Promise<NatsCluster> {
  try {
    return await startNatsCluster();
  } catch {
    return await startNatsCluster();
  }
}

/** CPU time (user + system) of process `pid` so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime), counted from after the command name.
    return (Number(fields[11]) + Number(fields[12])) * 10; // 100 ticks per second
  } catch {
    return NaN;
  }
}

/** A relay subprocess of the fleet. */
export interface RelayProcess {
  readonly name: string;
  readonly tcp: string;
  readonly pid: number;
  /** SIGKILL, and wait for it to exit. */
  kill(): Promise<void>;
  /** SIGTERM (then SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/** Starts `cli/main.ts relay` in the fleet on `nats`, on free loopback ports. */
export async function spawnRelay(
  name: string,
  nats: readonly string[],
  extra: readonly string[] = [],
): Promise<RelayProcess> {
  const state = await Deno.makeTempDir({ prefix: `sealroute-relay-${name}-` });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "cli/main.ts",
      "relay",
      ...["--nats", nats.join(","), "--fleet-name", name, "--state", state],
      ...["--port", "0", "--ws-port", "0", "--heartbeat", "1000", "--dead-after", "3000"],
      ...["--nats-replicas", "3", ...extra],
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  void child.stderr.pipeTo(new WritableStream()).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let tcp: string | undefined;
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, 30_000);
  while (!tcp) {
    const { value, done } = await lines.read();
    if (done) break;
    buffer += value;
    tcp = /relay ready .*tcp=(\S+)/.exec(buffer)?.[1];
  }
  clearTimeout(timer);
  // Keep reading: the relay prints a line per registration.
  void (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })().catch(() => {});
  if (!tcp) throw new Error(`relay ${name} did not start: ${buffer.slice(-300)}`);
  let exited = false;
  const status = child.status.then(async () => {
    exited = true;
    await Deno.remove(state, { recursive: true }).catch(() => {});
  });
  const signal = (s: Deno.Signal) => {
    try {
      if (!exited) child.kill(s);
    } catch { /* exited */ }
  };
  return {
    name,
    tcp,
    pid: child.pid,
    kill: async () => {
      signal("SIGKILL");
      await status;
    },
    stop: async () => {
      signal("SIGTERM");
      const timeout = setTimeout(() => signal("SIGKILL"), 3000);
      await status;
      clearTimeout(timeout);
    },
  };
}

/** A TCP proxy on 127.0.0.1 to `target()` (read at each new connection). */
export function proxy(target: () => string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  void (async () => {
    for await (const inbound of listener) {
      const [hostname, port] = target().split(":");
      const outbound = await Deno.connect({ hostname: hostname!, port: Number(port) }).catch(
        () => undefined,
      );
      if (!outbound) {
        inbound.close();
        continue;
      }
      open.add(inbound).add(outbound);
      const pipe = (a: Deno.Conn, b: Deno.Conn) =>
        a.readable.pipeTo(b.writable).catch(() => {}).finally(() => {
          for (const c of [a, b]) {
            try {
              c.close();
            } catch { /* closed */ }
            open.delete(c);
          }
        });
      void pipe(inbound, outbound);
      void pipe(outbound, inbound);
    }
  })().catch(() => {});
  return {
    hostPort: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** A device with a `count` worker: frames that reach it are counted. */
export interface CountingDevice {
  readonly device: Device;
  readonly count: () => number;
  /** Resolves once `n` frames were counted in all (or rejects after `ms`). */
  arrived(n: number, ms?: number): Promise<void>;
}

/** Starts a device registering `name` at `relay` (`host:port`) with a `count` worker. */
export async function countingDevice(
  relay: string,
  name: string,
  onRegistered?: (registrations: number) => void,
): Promise<CountingDevice> {
  const device = await startDevice({
    identity: await createIdentity(new Vault()),
    relay: { transport: "tcp", hostPort: relay },
    name,
    timeout: 10_000,
    link: LINK,
    ...(onRegistered ? { onRegistered } : {}),
  });
  let count = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  device.node.startWorker("count", () => {
    count++;
    if (waiter && count >= waiter.n) waiter.resolve();
  }, { consumes: [device.listener.flow] });
  return {
    device,
    count: () => count,
    arrived: (n, ms = 60_000) => {
      if (count >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${count}/${n} frames arrived`)), ms);
        waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

/** A client with a channel to `name` through `relay`, retried while the fleet catches up. */
export async function client(relay: string, name: string, ms = 20_000): Promise<Client> {
  const deadline = Date.now() + ms;
  const identity = await createIdentity(new Vault());
  for (;;) {
    try {
      return await connectToDevice({
        identity,
        relay: { transport: "tcp", hostPort: relay },
        to: name,
        timeout: 3000,
        link: LINK,
      });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/** Sends `n` frames of `size` bytes one way and resolves the ms until the last arrived. */
export async function oneWay(c: Client, d: CountingDevice, size: number, n: number) {
  const payload = new Uint8Array(size);
  const target = d.count() + n;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await c.channel.send("count", payload);
  await d.arrived(target);
  return performance.now() - t0;
}

/** `n` sequential request/replies to the device's `echo`: each round trip in ms. */
export async function roundTrips(c: Client, size: number, n: number): Promise<number[]> {
  const payload = new Uint8Array(size);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.channel.request("echo", payload, { timeout: 5000 });
    times.push(performance.now() - t0);
  }
  return times;
}

const fmt = (n: number, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : "—";

async function paths(relays: RelayProcess[], rounds: number): Promise<string[]> {
  const [a, b] = relays as [RelayProcess, RelayProcess];
  const d = await countingDevice(a.tcp, "path");
  const local = await client(a.tcp, "path");
  const remote = await client(b.tcp, "path");
  const rows: string[] = [];
  try {
    const cases = [["one relay (a)", local], ["two relays (b → NATS → a)", remote]] as const;
    const rate = new Map<string, number[]>();
    const lat = new Map<string, number[]>();
    for (const [, c] of cases) {
      await oneWay(c, d, 64, 500); // warm up
      await roundTrips(c, 64, 50);
    }
    for (let r = 0; r < rounds; r++) {
      for (const size of [64, 1024]) {
        for (const [label, c] of cases) {
          const key = `${label}|${size}`;
          const n = 5000;
          rate.set(key, [...rate.get(key) ?? [], n / ((await oneWay(c, d, size, n)) / 1000)]);
          lat.set(key, [...lat.get(key) ?? [], ...await roundTrips(c, size, 300)]);
        }
      }
    }
    for (const size of [64, 1024]) {
      for (const [label] of cases) {
        const key = `${label}|${size}`;
        const l = lat.get(key)!;
        rows.push(
          `| ${label} | ${size === 64 ? "64 B" : "1 KiB"} | ${fmt(median(rate.get(key)!))} | ${
            fmt(quantile(l, 0.5), 2)
          } | ${fmt(quantile(l, 0.99), 2)} |`,
        );
      }
    }
  } finally {
    await local.close();
    await remote.close();
    await d.device.close();
  }
  return rows;
}

interface LoadSet {
  k: number;
  devices: CountingDevice[];
  clients: Client[];
  crossing: number;
}

async function loadSet(relays: RelayProcess[], k: number, pairs: number): Promise<LoadSet> {
  const devices: CountingDevice[] = [];
  const clients: Client[] = [];
  let crossing = 0;
  for (let i = 0; i < pairs; i++) {
    devices.push(await countingDevice(relays[i % k]!.tcp, `load${k}-${i}`));
  }
  for (let i = 0; i < pairs; i++) {
    const at = (i + Math.floor(i / k)) % k;
    if (at !== i % k) crossing++;
    clients.push(await client(relays[at]!.tcp, `load${k}-${i}`));
  }
  return { k, devices, clients, crossing };
}

async function loadRun(set: LoadSet, relays: RelayProcess[], frames: number) {
  const payload = new Uint8Array(64);
  const targets = set.devices.map((d) => d.count() + frames);
  const cpu0 = relays.map((r) => cpuMs(r.pid));
  const self0 = cpuMs("self");
  const t0 = performance.now();
  await Promise.all(set.clients.map(async (c) => {
    for (let i = 0; i < frames; i++) await c.channel.send("count", payload);
  }));
  await Promise.all(set.devices.map((d, i) => d.arrived(targets[i]!, 120_000)));
  const ms = performance.now() - t0;
  return {
    rate: (frames * set.clients.length) / (ms / 1000),
    relayCpu: relays.map((r, i) => (cpuMs(r.pid) - cpu0[i]!) / ms),
    selfCpu: (cpuMs("self") - self0) / ms,
  };
}

async function load(relays: RelayProcess[], rounds: number, pairs: number): Promise<string[]> {
  const sets: LoadSet[] = [];
  const rows: string[] = [];
  try {
    for (const k of [1, 2, 3]) sets.push(await loadSet(relays, k, pairs));
    const runs = new Map<number, Awaited<ReturnType<typeof loadRun>>[]>();
    for (const set of sets) await loadRun(set, relays, 50); // warm
    for (let r = 0; r < rounds; r++) {
      for (const set of sets) {
        runs.set(set.k, [...runs.get(set.k) ?? [], await loadRun(set, relays, 500)]);
      }
    }
    for (const set of sets) {
      const rs = runs.get(set.k)!;
      const cpu = relays.map((_, i) => median(rs.map((x) => x.relayCpu[i]!)));
      rows.push(
        `| ${set.k} | ${pairs} / ${pairs} | ${set.crossing}/${pairs} | ${
          fmt(median(rs.map((x) => x.rate)))
        } | ${rs.map((x) => fmt(x.rate)).join(" ")} | ${
          cpu.slice(0, set.k).map((c) => fmt(c * 100)).join(" / ")
        } | ${fmt(median(rs.map((x) => x.selfCpu)) * 100)} |`,
      );
    }
  } finally {
    for (const set of sets) {
      for (const c of set.clients) await c.close().catch(() => {});
      for (const d of set.devices) await d.device.close().catch(() => {});
    }
  }
  return rows;
}

/** One failover: kill relay `victim`, re-point the device's proxy at `to`. */
async function failover(
  victim: RelayProcess,
  to: RelayProcess,
  observers: RelayProcess[],
  r: number,
) {
  let target = victim.tcp;
  const gate = proxy(() => target);
  const name = `moving${r}`;
  let t0 = Number.POSITIVE_INFINITY;
  let registeredAt = NaN;
  const d = await countingDevice(gate.hostPort, name, (n) => {
    if (n > 1 && Number.isNaN(registeredAt)) registeredAt = performance.now() - t0;
  });
  const clients = await Promise.all(observers.map((o) => client(o.tcp, name)));
  try {
    for (const c of clients) await roundTrips(c, 64, 5);
    t0 = performance.now();
    await victim.kill();
    target = to.tcp;
    const firstReply = clients.map(() => NaN);
    const probes: Promise<void>[] = [];
    while (
      performance.now() - t0 < 20_000 &&
      (firstReply.some((t) => Number.isNaN(t)) || Number.isNaN(registeredAt))
    ) {
      for (const [i, c] of clients.entries()) {
        if (!Number.isNaN(firstReply[i]!)) continue;
        probes.push(
          c.channel.request("echo", new Uint8Array(8), { timeout: 2000 }).then(() => {
            const at = performance.now() - t0;
            if (!(firstReply[i]! <= at)) firstReply[i] = at;
          }, () => {}),
        );
      }
      await sleep(20);
    }
    await Promise.all(probes);
    return { registeredAt, firstReply };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await d.device.close().catch(() => {});
    gate.close();
  }
}

async function failovers(cluster: NatsCluster, b: RelayProcess, c: RelayProcess, rounds: number) {
  const results: Awaited<ReturnType<typeof failover>>[] = [];
  for (let r = 0; r < rounds; r++) {
    const victim = await spawnRelay(`victim${r}`, [cluster.urls[0]!]);
    try {
      await sleep(2500); // the other relays link to it (they look every second)
      results.push(await failover(victim, b, [b, c], r));
    } finally {
      await victim.kill();
    }
  }
  const col = (f: (x: (typeof results)[number]) => number) =>
    `${fmt(median(results.map(f)))} (${results.map((x) => fmt(f(x))).join(" ")})`;
  return [
    `| device registered again at b | ${col((x) => x.registeredAt)} |`,
    `| first reply to a client on b (the name is now local there) | ${
      col((x) => x.firstReply[0]!)
    } |`,
    `| first reply to a client on c (c → NATS → b) | ${col((x) => x.firstReply[1]!)} |`,
  ];
}

if (import.meta.main) {
  if (!(await ensureNatsServer())) throw new Error("nats-server is not available");
  const rounds = Number(Deno.args[Deno.args.indexOf("--rounds") + 1] || 3);
  const pairs = 30;
  const nats = await cluster();
  const relays: RelayProcess[] = [];
  try {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      // Each relay on its own NATS node: frames between relays cross a route too.
      relays.push(await spawnRelay(name, [nats.urls[i]!]));
    }
    await sleep(2500); // every relay links to every other
    const started = performance.now();
    const pathRows = await paths(relays, rounds);
    const loadRows = await load(relays, rounds, pairs);
    const failRows = await failovers(nats, relays[1]!, relays[2]!, rounds);
    const loadavg = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
    console.log(
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${rounds} rounds, ` +
        `load ${loadavg}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    console.log("\n| path | payload | frames/s (one-way) | p50 RTT (ms) | p99 RTT (ms) |");
    console.log("|---|---|---:|---:|---:|");
    for (const row of pathRows) console.log(row);
    console.log(
      "\n| relays | devices / clients | pairs across relays | aggregate frames/s (64 B) | " +
        "rounds | relay CPU % (each) | bench process CPU % |",
    );
    console.log("|---:|---|---:|---:|---|---|---:|");
    for (const row of loadRows) console.log(row);
    console.log("\n| after SIGKILL of the device's relay (ms, median (rounds)) | time |");
    console.log("|---|---:|");
    for (const row of failRows) console.log(row);
  } finally {
    for (const relay of relays) await relay.stop();
    await nats.stop();
  }
}
