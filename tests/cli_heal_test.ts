// Links that heal, with real processes over loopback: the relay killed with SIGKILL and
// restarted on the same ports, the relay stopped (SIGSTOP) past the dead-link time and
// continued, and a device restarted under a running client. Short heartbeats and dead-link
// times keep them quick; nothing here asserts how long anything took.
import assert from "node:assert/strict";
import { clientDone, Proc } from "./_proc.ts";

/** Liveness flags for every role: heartbeat 250 ms, dead after 1.5 s. */
const LIVENESS = ["--heartbeat", "250", "--dead-after", "1500"];

interface Fleet {
  dir: string;
  procs: Proc[];
  relay: Proc;
  ports: { tcp: string; ws: string };
  device: Proc;
}

function startRelay(dir: string, tcp = "0", ws = "0"): Proc {
  return new Proc([
    "relay",
    "--port",
    tcp,
    "--ws-port",
    ws,
    "--state",
    `${dir}/relay`,
    ...LIVENESS,
  ]);
}

/** A device registering `sensor` at the relay's TCP port, its state in `dir/device`. */
function deviceProc(dir: string, tcp: string, flags: string[] = []): Proc {
  return new Proc([
    ...["device", "--relay", `127.0.0.1:${tcp}`, "--name", "sensor"],
    ...["--state", `${dir}/device`, ...LIVENESS, ...flags],
  ]);
}

async function fleet(deviceFlags: string[] = []): Promise<Fleet> {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  const relay = startRelay(dir);
  procs.push(relay);
  const [, tcp, ws] = await relay.waitFor(
    /^relay ready identifier=I\S+ tcp=\S+:(\d+) ws=\S+:(\d+)$/,
  );
  const device = deviceProc(dir, tcp!, deviceFlags);
  procs.push(device);
  await device.waitFor(/^device ready /);
  return { dir, procs, relay, ports: { tcp: tcp!, ws: ws! }, device };
}

function client(f: Fleet, count: number): Proc {
  const proc = new Proc([
    "client",
    "--relay",
    `ws://127.0.0.1:${f.ports.ws}`,
    "--to",
    "sensor",
    "--count",
    String(count),
    "--interval",
    "20",
    "--timeout",
    "1000",
    "--state",
    `${f.dir}/client`,
    ...LIVENESS,
  ]);
  f.procs.push(proc);
  return proc;
}

/** The `client done` line's fields. */
async function cleanup(f: Fleet): Promise<void> {
  for (const p of f.procs) await p.stop();
  await Deno.remove(f.dir, { recursive: true });
}

Deno.test("kill -9 of the relay, restarted on the same ports: device and client recover, same channel", async () => {
  const f = await fleet();
  try {
    const c = client(f, 300);
    await c.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
    f.relay.signal("SIGKILL");
    await f.relay.done;
    await c.waitFor(/^client link-lost /);
    await f.device.waitFor(/^device link-lost /);
    f.relay = startRelay(f.dir, f.ports.tcp, f.ports.ws);
    f.procs.push(f.relay);
    await f.relay.waitFor(/^relay ready /);
    await f.device.waitFor(/^device registered name=sensor registrations=2$/);
    const summary = await clientDone(c);
    assert.equal(summary.delivered, "300");
    assert.equal(summary.failed, "0");
    assert.equal(summary.handshakes, "1", "the channel carried on without a new handshake");
    assert(Number(summary.reconnects) >= 1, `reconnects=${summary.reconnects}`);
    assert.equal(f.device.count(/^client connected /), 1, "the device saw one handshake");
    assert.equal(f.device.child.pid !== undefined, true);
    f.device.signal("SIGTERM");
    assert.equal((await f.device.done).code, 0, f.device.stderr);
    // Exactly once at the device: every message, none twice.
    const { input: stopping } = await f.device.waitFor(/^device stopping /);
    assert.match(stopping, /delivered=300 duplicates=0 out_of_order=0$/);
  } finally {
    await cleanup(f);
  }
});

Deno.test("SIGSTOP of the relay past the dead-link time: declared dead while stopped, recovered after SIGCONT", async () => {
  const f = await fleet();
  try {
    const c = client(f, 300);
    await c.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
    f.relay.signal("SIGSTOP");
    // Both ends notice the silent link by themselves, while the relay is still stopped.
    const { input: deviceLost } = await f.device.waitFor(/^device link-lost /);
    assert.match(deviceLost, /reason=dead-link/);
    await c.waitFor(/^client link-lost /);
    f.relay.signal("SIGCONT");
    await f.device.waitFor(/^device registered name=sensor registrations=\d+$/);
    const summary = await clientDone(c);
    assert.equal(summary.delivered, "300");
    assert.equal(summary.failed, "0");
    assert(Number(summary.reconnects) >= 1, `reconnects=${summary.reconnects}`);
    f.device.signal("SIGTERM");
    const { input: stopping } = await f.device.waitFor(/^device stopping /);
    assert.match(stopping, /delivered=300 duplicates=0 out_of_order=0$/);
  } finally {
    f.relay.signal("SIGCONT");
    await cleanup(f);
  }
});

Deno.test("device restart under a running client: the client opens a new channel by itself", async () => {
  const f = await fleet();
  try {
    const c = client(f, 300);
    await c.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
    f.device.signal("SIGKILL");
    await f.device.done;
    const device = deviceProc(f.dir, f.ports.tcp);
    f.procs.push(device);
    await device.waitFor(/^device ready /);
    await c.waitFor(/^client reopened device=\S+ handshakes=2$/);
    const summary = await clientDone(c);
    assert.equal(summary.delivered, "300", "all delivered, to one device or the other");
    assert.equal(summary.failed, "0");
    assert.equal(summary.handshakes, "2");
    assert.equal(device.count(/^client connected /), 1);
  } finally {
    await cleanup(f);
  }
});

Deno.test("device killed -9 with --resume and restarted: the client's channel resumes, no handshake", async () => {
  const f = await fleet(["--resume"]);
  try {
    const c = client(f, 300);
    await c.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
    f.device.signal("SIGKILL");
    await f.device.done;
    const device = deviceProc(f.dir, f.ports.tcp, ["--resume"]);
    f.procs.push(device);
    const { input: ready } = await device.waitFor(/^device ready /);
    assert.match(ready, / resumed=1 /, "the client's channel came back from the store");
    const summary = await clientDone(c);
    assert.equal(summary.delivered, "300");
    assert.equal(summary.failed, "0");
    assert.equal(summary.handshakes, "1", "the same channel, no new handshake");
    assert.equal(device.count(/^client connected /), 0, "the restarted device saw no handshake");
  } finally {
    await cleanup(f);
  }
});

Deno.test("device killed -9 with --resume during a send stream: delivered exactly once across both runs", async () => {
  const f = await fleet(["--resume"]);
  try {
    const c = client(f, 300);
    await c.waitFor(/^progress sent=\d+ delivered=([4-9]\d|\d{3,})/);
    f.device.signal("SIGKILL");
    await f.device.done;
    const device = deviceProc(f.dir, f.ports.tcp, ["--resume"]);
    f.procs.push(device);
    const { input: ready } = await device.waitFor(/^device ready /);
    assert.match(ready, / resumed=1 /);
    const summary = await clientDone(c);
    assert.equal(summary.sent, "300");
    assert.equal(summary.delivered, "300");
    assert.equal(summary.failed, "0");
    assert.equal(summary.handshakes, "1", "the same channel, the same delivery session");
    device.signal("SIGTERM");
    assert.equal((await device.done).code, 0, device.stderr);
    // The tally is kept with the receiver's record (<state>/delivery.db): it counts both runs.
    const { input: stopping } = await device.waitFor(/^device stopping /);
    assert.match(stopping, /delivered=300 duplicates=0 out_of_order=0$/);
  } finally {
    await cleanup(f);
  }
});
