// A relay fleet's per-unit costs and a ≥ 10,000-name load run (issue 19, SCALING.md).
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/fleet_scale.ts [--names 10002]
//     [--per-relay 3000] [--queued 5000] [--frames 3000] [--devices 300]
//
// Registrations come from registrar subprocesses (this file with `--registrar`): one TCP
// connection per relay, identities of 64 names each over 2 secure channels of 32 names (the
// relay service's per-identity and per-connection bounds), names registered through the
// channels as devices do (`createRelay`); a `sink` worker prints each frame that reaches it.
//
// 1. Memory (cluster 1): relay a in this process, relay b a subprocess. Heap after gc, before
//    and after N names registered at a (what the holder's relay pays), then N at b (what every
//    other relay pays: the record in its registry cache and a stand-in worker), then D
//    device-like registrars at a (`--devices`: a node, TCP connection, identity and channel
//    each, as a real device costs its relay). Heap means heapUsed + external. Then a's
//    registrar is killed (its names held offline) and Q frames of 64 B are sent to one of them
//    in clear: heap per queued frame at a, and JetStream store bytes per frame (3 replicas).
// 2. Per frame (cluster 2, relays as subprocesses): a device on a, a client on a and one on b
//    sending one-way frames; CPU of each relay and NATS node from /proc, NATS bytes from /varz
//    (in and out over the 3 nodes, idle traffic subtracted).
// 3. Load (cluster 3): 3 relays in this process, ≥ 10,000 names over them; every name looked
//    up in every relay's registry; frames to random names through random relays.
import { createSecureChannel } from "../channel/mod.ts";
import { startRelayNode } from "../cli/_relay.ts";
import { FleetClient } from "../fleet/deno.ts";
import { createIdentity, type LocalIdentity } from "../identity/mod.ts";
import { createRelay, Node, STATIC_RELAY_SERVICE_ADDRESS } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { ensureNatsServer, type NatsCluster } from "../tests/nats/cluster.ts";
import {
  client,
  cluster as startCluster,
  countingDevice,
  cpuMs,
  oneWay,
  type RelayProcess,
  sleep,
  spawnRelay,
} from "./fleet_bench.ts";

const LIVENESS = { heartbeatInterval: 1000, deadAfter: 10_000 };
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  for (let i = 0; i < 3; i++) gc!();
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external; // ArrayBuffers live outside the heap
};
const fmt = (n: number, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : "—";
const until = async (check: () => boolean, what: string, ms = 120_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** As a device: its own node, TCP connection, identity and secure channel per name. */
async function deviceLike(relay: string, prefix: string, count: number): Promise<void> {
  let next = 0;
  const work = async () => {
    for (let i = next++; i < count; i = next++) {
      const node = new Node();
      const link = await connectTcp(node, relay, { ...LIVENESS, expectHeartbeats: true });
      const channel = await createSecureChannel(node, link.route.append("api"), {
        identity: await createIdentity(new Vault()),
        timeout: 20_000,
      });
      await createRelay(node, [channel.address], `${prefix}${i}`, {
        service: STATIC_RELAY_SERVICE_ADDRESS,
        timeout: 60_000,
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, work));
  console.log(`registered ${count}`);
  await new Promise(() => {}); // until killed
}

/** The registrar role: registers `count` names `prefix0…` at `relay`, then prints frames. */
async function registrar(relay: string, prefix: string, count: number): Promise<void> {
  const node = new Node();
  const link = await connectTcp(node, relay, { ...LIVENESS, expectHeartbeats: true });
  node.startWorker("sink", (ctx) => {
    console.log(`sink ${new TextDecoder().decode(ctx.message.payload)}`);
  });
  const jobs: { identity: LocalIdentity; names: string[] }[] = [];
  for (let i = 0; i < count; i += 32) {
    if (i % 64 === 0) jobs.push({ identity: await createIdentity(new Vault()), names: [] });
    jobs.at(-1)!.names.push(
      ...Array.from({ length: Math.min(32, count - i) }, (_, k) => i + k)
        .map((n) => `${prefix}${n}`),
    );
  }
  let next = 0;
  const channelWork = async () => {
    for (let j = next++; j < jobs.length; j = next++) {
      const { identity, names } = jobs[j]!;
      for (let c = 0; c < names.length; c += 32) {
        const channel = await createSecureChannel(node, link.route.append("api"), {
          identity,
          timeout: 20_000,
        });
        node.flowControls.addConsumer("sink", channel.flow);
        await Promise.all(
          names.slice(c, c + 32).map((name) =>
            createRelay(node, [channel.address], name, {
              service: STATIC_RELAY_SERVICE_ADDRESS,
              timeout: 60_000,
            })
          ),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, channelWork));
  console.log(`registered ${count}`);
  await new Promise(() => {}); // until killed
}

/** A registrar subprocess; `frames` lists what its sink printed. */
async function spawnRegistrar(relay: string, prefix: string, count: number, devices = false) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      devices ? "--devices" : "--registrar",
      relay,
      prefix,
      `${count}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const frames: string[] = [];
  let registered = false;
  const reading = (async () => {
    let buffer = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("sink ")) frames.push(line.slice(5));
        else if (line.startsWith("registered ")) registered = true;
      }
    }
  })().catch(() => {});
  const t0 = performance.now();
  await until(() => registered, `${count} registrations at ${relay}`, 240_000);
  const seconds = (performance.now() - t0) / 1000;
  return {
    frames,
    seconds,
    names: Array.from({ length: count }, (_, i) => `${prefix}${i}`),
    kill: async () => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await reading;
    },
  };
}

async function fleetNode(cluster: NatsCluster, i: number, name: string, maxPerName = 1000) {
  const nats = await FleetClient.connect([cluster.urls[i]!, ...cluster.urls], {
    noRandomize: true,
  });
  const relay = await startRelayNode({
    identity: await createIdentity(new Vault()),
    liveness: LIVENESS,
    fleet: { client: nats, name, replicas: 3, queue: { maxPerName } },
  });
  return {
    relay,
    close: async () => {
      await relay.close();
      await nats.close();
    },
  };
}

/** JetStream's stored bytes and messages, summed over the nodes (every replica counts). */
async function jsStore(cluster: NatsCluster): Promise<{ bytes: number; messages: number }> {
  const total = { bytes: 0, messages: 0 };
  for (const port of cluster.monitors) {
    const body = await (await fetch(`http://127.0.0.1:${port}/jsz`)).json() as {
      bytes?: number;
      messages?: number;
    };
    total.bytes += body.bytes ?? 0;
    total.messages += body.messages ?? 0;
  }
  return total;
}

/** CPU this process uses while idle for `ms`, in µs per second. */
async function idleCpu(ms: number): Promise<number> {
  const [c0, t0] = [cpuMs("self"), performance.now()];
  await sleep(ms);
  return (cpuMs("self") - c0) / (performance.now() - t0) * 1e6;
}

async function memory(n: number, queued: number, devices: number): Promise<string[]> {
  const cluster = await startCluster();
  const a = await fleetNode(cluster, 0, "a", queued + 10);
  let b: RelayProcess | undefined;
  const regs: Awaited<ReturnType<typeof spawnRegistrar>>[] = [];
  try {
    b = await spawnRelay("b", [cluster.urls[1]!], ["--queue-max-per-name", `${queued + 10}`]);
    await until(() => a.relay.fleet!.links().length === 1, "a link to b", 20_000);
    const h0 = heap();
    regs.push(await spawnRegistrar(a.relay.tcp, "held", n));
    await until(() => a.relay.relays.relays().length === n, "names at a");
    const h1 = heap();
    regs.push(await spawnRegistrar(b.tcp, "elsewhere", n));
    const standIns = () => regs[1]!.names.every((x) => a.relay.node.hasWorker(`forward_to_${x}`));
    await until(standIns, "stand-ins at a");
    const h2 = heap();
    const idle0 = await idleCpu(5000);
    regs.push(await spawnRegistrar(a.relay.tcp, "device", devices, true));
    await until(() => a.relay.relays.relays().length === n + devices, "devices at a");
    const h2d = heap();
    const idle1 = await idleCpu(5000);
    await regs[0]!.kill();
    await until(
      () => a.relay.relays.registrations().every((r) => !r.online || !r.name.startsWith("held")),
      "a's names offline",
    );
    const h3 = heap();
    const js0 = await jsStore(cluster);
    const sender = new Node();
    const link = await connectTcp(sender, a.relay.tcp, { ...LIVENESS, expectHeartbeats: true });
    const route = link.route.append("forward_to_held0").append("sink");
    const payload = new Uint8Array(64);
    for (let i = 0; i < queued; i++) await sender.send(route, payload);
    const size = () => a.relay.relays.registrations().find((r) => r.name === "held0")?.queued ?? 0;
    await until(() => size() === queued, "frames queued");
    await sleep(1000);
    const h4 = heap();
    const js1 = await jsStore(cluster);
    await sender.close();
    return [
      `| registration, at the holder's relay (heap, ${n} names) | ${fmt((h1 - h0) / n)} B |`,
      `| registration, at every other relay (cache record + stand-in) | ${fmt((h2 - h1) / n)} B |`,
      `| registrations: time to register ${n} names at one relay | ${fmt(regs[0]!.seconds, 1)} s (${
        fmt(n / regs[0]!.seconds)
      }/s) |`,
      `| a device at its relay: TCP connection + secure channel + name (${devices} devices) | ${
        fmt((h2d - h2) / devices)
      } B |`,
      `| a connected idle device at its relay, heartbeats every 1 s both ways (CPU) | ${
        fmt((idle1 - idle0) / devices, 1)
      } µs/s |`,
      `| holder gone offline (name held, queueing) vs online | ${fmt((h3 - h2d) / n)} B/name |`,
      `| queued frame of 64 B at the relay (heap, ${queued} frames) | ${
        fmt((h4 - h3) / queued)
      } B |`,
      `| queued frame of 64 B in JetStream (store bytes, all 3 replicas) | ${
        fmt((js1.bytes - js0.bytes) / queued)
      } B (${fmt((js1.messages - js0.messages) / 3)} of ${queued} frames stored) |`,
    ];
  } finally {
    for (const r of regs) await r.kill();
    await b?.stop();
    await a.close();
    await cluster.stop();
  }
}

async function varz(cluster: NatsCluster) {
  let inBytes = 0, outBytes = 0, inMsgs = 0;
  for (const port of cluster.monitors) {
    const v = await (await fetch(`http://127.0.0.1:${port}/varz`)).json() as Record<
      string,
      number
    >;
    inBytes += v.in_bytes ?? 0;
    outBytes += v.out_bytes ?? 0;
    inMsgs += v.in_msgs ?? 0;
  }
  return { inBytes, outBytes, inMsgs };
}

async function perFrame(frames: number): Promise<string[]> {
  const cluster = await startCluster();
  const relays: RelayProcess[] = [];
  const rows: string[] = [];
  try {
    for (const [i, name] of ["a", "b"].entries()) {
      // Each relay on its own NATS node: b → n1 → route → n0 → a.
      relays.push(await spawnRelay(name, [cluster.urls[i]!]));
    }
    await sleep(2500);
    const [a, b] = relays as [RelayProcess, RelayProcess];
    const natsPids = [0, 1, 2].map((i) => cluster.pid(i)!);
    const cpu = () => [...relays.map((r) => cpuMs(r.pid)), ...natsPids.map(cpuMs)];
    // Idle: heartbeats, liveness records, link acks.
    const [c0, v0, t0] = [cpu(), await varz(cluster), performance.now()];
    await sleep(3000);
    const [c1, v1, idleMs] = [cpu(), await varz(cluster), performance.now() - t0];
    const idle = {
      cpu: c1.map((c, i) => (c - c0[i]!) / idleMs),
      inBytes: (v1.inBytes - v0.inBytes) / idleMs,
      outBytes: (v1.outBytes - v0.outBytes) / idleMs,
    };
    const d = await countingDevice(a.tcp, "meter");
    const local = await client(a.tcp, "meter");
    const remote = await client(b.tcp, "meter");
    await oneWay(local, d, 64, 500);
    await oneWay(remote, d, 64, 500);
    for (const size of [64, 1024]) {
      for (
        const [label, c] of [["one relay (a)", local], ["two relays (b → a)", remote]] as const
      ) {
        const [cs, vs] = [cpu(), await varz(cluster)];
        const ms = await oneWay(c, d, size, frames);
        const [ce, ve] = [cpu(), await varz(cluster)];
        const used = ce.map((x, i) => (x - cs[i]! - idle.cpu[i]! * ms) * 1000 / frames);
        const relayUs = used[0]! + used[1]!;
        const natsUs = used[2]! + used[3]! + used[4]!;
        rows.push(
          `| ${label} | ${size === 64 ? "64 B" : "1 KiB"} | ${fmt(relayUs)} | ${fmt(natsUs)} | ${
            fmt((ve.inBytes - vs.inBytes - idle.inBytes * ms) / frames)
          } | ${fmt((ve.outBytes - vs.outBytes - idle.outBytes * ms) / frames)} | ${
            fmt((ve.inMsgs - vs.inMsgs) / frames, 2)
          } |`,
        );
      }
    }
    await local.close();
    await remote.close();
    await d.device.close();
    rows.push(
      `| idle, µs of CPU and bytes per second (2 relays, 3 nodes) | — | ${
        fmt((idle.cpu[0]! + idle.cpu[1]!) * 1e6)
      } | ${fmt((idle.cpu[2]! + idle.cpu[3]! + idle.cpu[4]!) * 1e6)} | ${
        fmt(idle.inBytes * 1000)
      } | ${fmt(idle.outBytes * 1000)} | — |`,
    );
  } finally {
    for (const r of relays) await r.stop();
    await cluster.stop();
  }
  return rows;
}

async function loadRun(total: number, samples: number): Promise<string[]> {
  const cluster = await startCluster();
  const nodes: Awaited<ReturnType<typeof fleetNode>>[] = [];
  const regs: Awaited<ReturnType<typeof spawnRegistrar>>[] = [];
  try {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      nodes.push(await fleetNode(cluster, i, name));
    }
    const relays = nodes.map((x) => x.relay);
    await until(() => relays.every((r) => r.fleet!.links().length === 2), "links", 20_000);
    const h0 = heap();
    const kv0 = await jsStore(cluster);
    const t0 = performance.now();
    const per = Math.ceil(total / 3);
    regs.push(
      ...await Promise.all(relays.map((r, i) => spawnRegistrar(r.tcp, `n${"abc"[i]}-`, per))),
    );
    const names = regs.flatMap((r, i) => r.names.map((name) => ({ name, at: "abc"[i]! })));
    // Every relay resolves every name (its registry cache) to the relay that holds it.
    const resolved = () =>
      relays.map((r) =>
        names.filter(({ name, at }) => r.fleet!.registry.lookup(`forward_to_${name}`)?.node === at)
          .length
      );
    await until(() => resolved().every((n) => n === names.length), "every name everywhere");
    const seconds = (performance.now() - t0) / 1000;
    const h1 = heap();
    const kv1 = await jsStore(cluster);
    const rss = Deno.memoryUsage().rss;
    // Frames to random names through random relays, in clear (as a client's channel frames).
    const sender = new Node();
    const links = await Promise.all(
      relays.map((r) => connectTcp(sender, r.tcp, { ...LIVENESS, expectHeartbeats: true })),
    );
    let crossing = 0;
    const s0 = performance.now();
    for (let i = 0; i < samples; i++) {
      const pick = names[Math.floor(Math.random() * names.length)]!;
      const via = Math.floor(Math.random() * 3);
      if ("abc"[via] !== pick.at) crossing++;
      await sender.send(
        links[via]!.route.append(`forward_to_${pick.name}`).append("sink"),
        new TextEncoder().encode(`s${i}`),
      );
    }
    const arrived = () => regs.reduce((n, r) => n + r.frames.length, 0);
    await until(() => arrived() >= samples, "sampled frames", 30_000).catch(() => {});
    const sampleMs = performance.now() - s0;
    const distinct = new Set(regs.flatMap((r) => r.frames)).size;
    await sender.close();
    return [
      `| names registered (3 relays, ${per} each) | ${names.length} |`,
      `| registered and resolvable at all 3 relays after | ${fmt(seconds, 1)} s |`,
      `| names resolved, relay a / b / c | ${resolved().join(" / ")} |`,
      `| heap of the 3 relays for them (one process) | ${fmt((h1 - h0) / 2 ** 20, 1)} MiB (${
        fmt((h1 - h0) / names.length)
      } B/name, all 3 relays) |`,
      `| process RSS with 3 relays and ${names.length} names | ${fmt(rss / 2 ** 20)} MiB |`,
      `| the names' registry (JetStream KV, store bytes, all 3 replicas) | ${
        fmt((kv1.bytes - kv0.bytes) / names.length)
      } B/name |`,
      `| sampled frames to random names via random relays | ${arrived()}/${samples} arrived ` +
      `(${distinct} distinct), ${crossing} across relays, ${fmt(sampleMs)} ms |`,
    ];
  } finally {
    for (const r of regs) await r.kill();
    for (const x of nodes) await x.close().catch(() => {});
    await cluster.stop();
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--registrar" || Deno.args[0] === "--devices") {
    const role = Deno.args[0] === "--devices" ? deviceLike : registrar;
    await role(Deno.args[1]!, Deno.args[2]!, Number(Deno.args[3]));
  } else {
    if (!gc) throw new Error("run with --v8-flags=--expose-gc");
    if (!(await ensureNatsServer())) throw new Error("nats-server is not available");
    const started = performance.now();
    const arg = (flag: string, fallback: number) =>
      Number(Deno.args[Deno.args.indexOf(flag) + 1] || fallback);
    const mem = await memory(
      arg("--per-relay", 3000),
      arg("--queued", 5000),
      arg("--devices", 300),
    );
    const frames = await perFrame(arg("--frames", 3000));
    const load = await loadRun(arg("--names", 10_002), 300);
    console.log(
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load ${
        Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
      }, ${fmt((performance.now() - started) / 1000)} s`,
    );
    console.log("\n| per unit (memory) | cost |\n|---|---:|");
    for (const row of mem) console.log(row);
    console.log(
      "\n| path | payload | relay CPU (µs/frame) | NATS CPU (µs/frame) | NATS in (B/frame) " +
        "| NATS out (B/frame) | NATS msgs in/frame |",
    );
    console.log("|---|---|---:|---:|---:|---:|---:|");
    for (const row of frames) console.log(row);
    console.log("\n| load run | result |\n|---|---|");
    for (const row of load) console.log(row);
  }
}
