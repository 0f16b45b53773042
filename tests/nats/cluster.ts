/**
 * Test infrastructure: Debian's `nats-server`, installed when missing, and a JetStream
 * cluster (or a single server) on loopback started and stopped by PID.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FleetClient } from "../../fleet/deno.ts";

/** Whether `nats-server --version` runs. */
async function natsServerWorks(): Promise<boolean> {
  try {
    const out = await new Deno.Command("nats-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const tail = new TextDecoder().decode(out.stderr).slice(-500);
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${tail}`);
  }
}

/**
 * Installs Debian's `nats-server` (`apt-get update && apt-get install -y nats-server`) unless
 * `nats-server --version` already works. Resolves `true` when it is usable afterwards.
 */
export async function ensureNatsServer(): Promise<boolean> {
  const works = await installNatsServer();
  // CI's fleet step sets it: there the fleet tests must run, not be skipped.
  if (!works && Deno.env.get("SEALROUTE_REQUIRE_NATS") === "1") {
    throw new Error("nats-server is missing and could not be installed from Debian");
  }
  return works;
}

async function installNatsServer(): Promise<boolean> {
  if (await natsServerWorks()) return true;
  try {
    await run("apt-get", ["update", "-qq"]);
    await run("apt-get", ["install", "-y", "-qq", "nats-server"]);
  } catch {
    return false;
  }
  return await natsServerWorks();
}

/** A running cluster: client URLs (one per node) and per-node control. */
export interface NatsCluster {
  /** `nats://127.0.0.1:PORT` of each node, in node order. */
  readonly urls: string[];
  /** Each node's HTTP monitoring port (`/varz`, `/jsz`, …) on 127.0.0.1, in node order. */
  readonly monitors: number[];
  /** The process id of node `index`, or `undefined` while it is not running. */
  pid(index: number): number | undefined;
  /** Kills node `index` with SIGKILL (kill -9) and waits for it to exit. */
  kill(index: number): Promise<void>;
  /**
   * Starts node `index` again (after `kill`) on its ports and store dir, and resolves once it
   * has its routes back and sees a JetStream meta leader.
   */
  restart(index: number): Promise<void>;
  /** Stops every node still running (SIGTERM, then SIGKILL after a grace) and removes its dirs. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startNatsCluster}. */
export interface NatsClusterOptions {
  /** Number of nodes. Default 3. */
  nodes?: number;
  /** How long to wait for the cluster to form, in ms (a hang guard). Default 20 s. */
  timeout?: number;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Ports {
  client: number;
  cluster: number;
  monitor: number;
}

function config(name: string, ports: Ports, all: Ports[], storeDir: string): string {
  const routes = all.filter((p) => p !== ports).map((p) => `nats-route://127.0.0.1:${p.cluster}`);
  return [
    `server_name: ${name}`,
    `host: 127.0.0.1`,
    `port: ${ports.client}`,
    `http: "127.0.0.1:${ports.monitor}"`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
    `cluster {`,
    `  name: sealroute-test`,
    `  listen: "127.0.0.1:${ports.cluster}"`,
    `  routes: [${routes.map((r) => JSON.stringify(r)).join(", ")}]`,
    `}`,
    ``,
  ].join("\n");
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function numRoutes(monitor: number): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitor}/routez`);
    const body = await response.json() as { num_routes?: number };
    return body.num_routes ?? 0;
  } catch {
    return -1;
  }
}

/** Whether node `monitor` sees a JetStream meta leader (so JetStream requests are served). */
async function hasMetaLeader(monitor: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitor}/jsz`);
    const body = await response.json() as { meta_cluster?: { leader?: string } };
    return Boolean(body.meta_cluster?.leader);
  } catch {
    return false;
  }
}

/**
 * Starts `nodes` `nats-server` processes with JetStream on 127.0.0.1 (free ports, one temp
 * store dir each, routes to all the others) and resolves once every client port accepts
 * connections and every node reports `nodes - 1` routes on `/routez`.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  const timeout = options.timeout ?? 20_000;
  const root = await Deno.makeTempDir({ prefix: "sealroute-nats-" });
  const ports: Ports[] = Array.from({ length: count }, () => ({
    client: freePort(),
    cluster: freePort(),
    monitor: freePort(),
  }));
  const children: (Deno.ChildProcess | undefined)[] = [];
  const spawn = (i: number): void => {
    children[i] = new Deno.Command("nats-server", {
      args: ["-c", `${root}/n${i}/nats.conf`],
      stdout: "null",
      stderr: "null",
    }).spawn();
  };
  /** Waits until the nodes of `which` accept clients, have every route and a meta leader. */
  const formed = async (which: Ports[]): Promise<void> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const up = await Promise.all(which.map((p) => canConnect(p.client)));
      const routes = await Promise.all(which.map((p) => numRoutes(p.monitor)));
      const leaders = await Promise.all(which.map((p) => hasMetaLeader(p.monitor)));
      if (up.every(Boolean) && routes.every((n) => n >= count - 1) && leaders.every(Boolean)) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `NATS cluster did not form: up ${up}, routes ${routes}, leaders ${leaders}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stopChild = async (index: number, signal: Deno.Signal): Promise<void> => {
    const child = children[index];
    if (!child) return;
    children[index] = undefined;
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
    if (signal === "SIGKILL") {
      await child.status;
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 3000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
      await child.status;
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((_, i) => stopChild(i, "SIGTERM")));
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  try {
    for (let i = 0; i < count; i++) {
      const dir = `${root}/n${i}`;
      await Deno.mkdir(`${dir}/js`, { recursive: true });
      await Deno.writeTextFile(`${dir}/nats.conf`, config(`n${i}`, ports[i]!, ports, `${dir}/js`));
      spawn(i);
    }
    await formed(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p.client}`),
    monitors: ports.map((p) => p.monitor),
    pid: (index) => children[index]?.pid,
    kill: (index) => stopChild(index, "SIGKILL"),
    restart: async (index) => {
      if (children[index]) throw new Error(`NATS node ${index} is running`);
      spawn(index);
      await formed([ports[index]!]);
    },
    stop,
  };
}

/**
 * A standalone JetStream server on a free loopback port (its own temp store dir) and a
 * client connected to it; `stop()` closes both (the server by PID) and removes the dir.
 */
export async function startNatsServer() {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `nats://127.0.0.1:${port}`;
  let client: FleetClient | undefined;
  for (let i = 0; i < 100 && !client; i++) {
    client = await FleetClient.connect([url], { reconnect: false }).catch(() => undefined);
    if (!client) await new Promise((r) => setTimeout(r, 50));
  }
  assert(client, "nats-server did not start");
  return {
    nc: client.nats,
    js: FleetClient.jetstream(client),
    async stop() {
      await client.nats.close();
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
