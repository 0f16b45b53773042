// Issue 19 with real processes: three `sealroute relay --nats` on a 3-node NATS cluster, a
// device given two relays, clients on the others; relay processes and NATS nodes killed with
// SIGKILL mid-stream. Nothing here asserts how long anything took.
import assert from "node:assert/strict";
import { clientDone, Proc } from "./_proc.ts";
import { ensureNatsServer, type NatsCluster, startNatsCluster } from "./nats/cluster.ts";

const available = await ensureNatsServer();
const LIVENESS = ["--heartbeat", "250", "--dead-after", "1500"];

interface Relay {
  proc: Proc;
  tcp: string;
  ws: string;
}

interface Fleet {
  dir: string;
  cluster: NatsCluster;
  procs: Proc[];
  relays: Relay[];
}

async function startRelay(f: Fleet, name: string, nats: string[]): Promise<Relay> {
  const proc = new Proc([
    ...["relay", "--port", "0", "--ws-port", "0", "--state", `${f.dir}/${name}`],
    ...["--nats", nats.join(","), "--fleet-name", name, ...LIVENESS],
  ]);
  f.procs.push(proc);
  const [, tcp, ws] = await proc.waitFor(
    /^relay ready identifier=I\S+ tcp=\S+:(\d+) ws=\S+:(\d+) fleet=\S+$/,
  );
  return { proc, tcp: tcp!, ws: ws! };
}

async function fleet(): Promise<Fleet> {
  const dir = await Deno.makeTempDir();
  const cluster = await startNatsCluster();
  const f: Fleet = { dir, cluster, procs: [], relays: [] };
  try {
    for (const [i, name] of ["a", "b", "c"].entries()) {
      // Each relay on its own NATS node first, the others as fallbacks.
      const urls = [cluster.urls[i]!, ...cluster.urls.filter((_, j) => j !== i)];
      f.relays.push(await startRelay(f, name, urls));
    }
  } catch (error) {
    await cleanup(f);
    throw error;
  }
  return f;
}

function device(f: Fleet, relays: Relay[]): Proc {
  const proc = new Proc([
    ...["device", "--relay", relays.map((r) => `tcp://127.0.0.1:${r.tcp}`).join(",")],
    ...["--name", "sensor", "--state", `${f.dir}/device`, ...LIVENESS],
  ]);
  f.procs.push(proc);
  return proc;
}

function client(f: Fleet, relay: Relay, who: string, count: number): Proc {
  const proc = new Proc([
    ...["client", "--relay", `ws://127.0.0.1:${relay.ws}`, "--to", "sensor"],
    ...["--count", String(count), "--interval", "10", "--timeout", "1000"],
    ...["--state", `${f.dir}/${who}`, ...LIVENESS],
  ]);
  f.procs.push(proc);
  return proc;
}

async function cleanup(f: Fleet): Promise<void> {
  for (const p of f.procs) await p.stop();
  await f.cluster.stop();
  await Deno.remove(f.dir, { recursive: true }).catch(() => {});
}

/** Stops the device and checks what its reliable streams delivered: each once, in order. */
async function deviceDelivered(proc: Proc, expected: number): Promise<void> {
  proc.signal("SIGTERM");
  assert.equal((await proc.done).code, 0, proc.stderr);
  const { input: stopping } = await proc.waitFor(/^device stopping /);
  assert.match(stopping, new RegExp(`delivered=${expected} duplicates=0 out_of_order=0$`));
}

Deno.test({
  name:
    "fleet: kill -9 of the device's relay mid-stream; it moves to another, clients on the others deliver exactly once",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fleet();
    try {
      const [a, b, c] = f.relays as [Relay, Relay, Relay];
      const d = device(f, [a, b]);
      await d.waitFor(/^device ready /);
      // One reliable stream (the device's tally numbers one stream), from relay c.
      const fromC = client(f, c, "client-c", 400);
      await fromC.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
      a.proc.signal("SIGKILL");
      await a.proc.done;
      await d.waitFor(/^device link-lost /);
      // The device dials the next relay of its list, b, and registers there.
      await d.waitFor(/^device reconnected /);
      const summary = await clientDone(fromC, 120_000);
      assert.equal(summary.delivered, "400");
      assert.equal(summary.failed, "0");
      await deviceDelivered(d, 400);
      assert.equal(
        b.proc.count(/^relay registered name=forward_to_sensor /),
        1,
        b.proc.lines.join("\n"),
      );
    } finally {
      await cleanup(f);
    }
  },
});

Deno.test({
  name: "fleet: kill -9 of a NATS node mid-stream loses and duplicates nothing; it rejoins",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fleet();
    try {
      const [a, b] = f.relays as [Relay, Relay, Relay];
      const d = device(f, [a]);
      await d.waitFor(/^device ready /);
      const fromB = client(f, b, "client-b", 400);
      await fromB.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
      // Relay a's own NATS node dies: a reconnects to another, the stream goes on.
      await f.cluster.kill(0);
      await fromB.waitFor(/^progress sent=\d+ delivered=(2\d\d|3\d\d)/, { guardMs: 60_000 });
      await f.cluster.restart(0);
      const summary = await clientDone(fromB, 120_000);
      assert.equal(summary.delivered, "400");
      assert.equal(summary.failed, "0");
      await deviceDelivered(d, 400);
    } finally {
      await cleanup(f);
    }
  },
});
