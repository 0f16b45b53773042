// Subprocess tests of the role commands: relay + device + `send` end to end, `--json`
// reply, the state-directory lock, and a same-identity takeover (the first device exits replaced).
import assert from "node:assert/strict";

import { Proc, run } from "./_proc.ts";

Deno.test("relay + device + send: a message through the relay, and a locked state dir", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  try {
    const relay = new Proc(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`]);
    procs.push(relay);
    const [, tcp, ws] = await relay.waitFor(/^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/);

    // A second process on the same state directory is refused, naming the directory.
    const second = await run(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`^error \\[state-locked\\]: .*${dir}/relay`, "m"));
    assert.match(await Deno.readTextFile(`${dir}/relay/lock`), new RegExp(`^${relay.child.pid}`));

    const device = new Proc([
      "device",
      "--relay",
      tcp!,
      "--name",
      "sensor",
      "--state",
      `${dir}/device`,
    ]);
    procs.push(device);
    await device.waitFor(/^device ready /);

    const sent = await run([
      "send",
      "--relay",
      `ws://${ws}`,
      "--to",
      "sensor",
      "--worker",
      "echo",
      "--state",
      `${dir}/client`,
      "--json",
      "hello there",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const lines = sent.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{
      event: "reply",
      to: "sensor",
      worker: "echo",
      reply: "hello there",
    }]);

    await relay.stop();
    await relay.done;
    // The lock is released on a clean exit.
    await assert.rejects(Deno.stat(`${dir}/relay/lock`), Deno.errors.NotFound);
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("same-identity takeover: the first device is told and exits with replaced", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  try {
    const relay = new Proc(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`]);
    procs.push(relay);
    const [, tcp, ws] = await relay.waitFor(/^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/);
    const device = (state: string) =>
      new Proc(["device", "--relay", tcp!, "--name", "sensor", "--state", state]);
    const first = device(`${dir}/device`);
    procs.push(first);
    await first.waitFor(/^device ready /);
    // The same identity in a second state directory (a copy without the lock): a second
    // process, as after a restore on another machine.
    const copied = await new Deno.Command("cp", { args: ["-r", `${dir}/device`, `${dir}/copy`] })
      .output();
    assert.ok(copied.success);
    await Deno.remove(`${dir}/copy/lock`);
    const second = device(`${dir}/copy`);
    procs.push(second);
    await second.waitFor(/^device ready /);
    const status = await first.done;
    assert.equal(status.code, 1, first.stderr);
    assert.match(first.stderr, /^error \[replaced\]: another process with this identity/m);
    // The second one holds the name and keeps running.
    const sent = await run([
      "send",
      "--relay",
      `ws://${ws}`,
      "--to",
      "sensor",
      "--worker",
      "echo",
      "--state",
      `${dir}/client`,
      "still served",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /still served/);
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--json: relay, device and client print one JSON object per line", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  const events = (lines: string[]) => lines.map((line) => JSON.parse(line) as { event: string });
  try {
    const relay = new Proc([
      "relay",
      "--port",
      "0",
      "--ws-port",
      "0",
      "--json",
      "--state",
      `${dir}/r`,
    ]);
    procs.push(relay);
    const { input: ready } = await relay.waitFor(/^\{"event":"relay\.ready"/);
    const { tcp, ws, identifier } = JSON.parse(ready);
    assert.match(identifier, /^I[0-9a-f]{64}$/);
    const device = new Proc([
      "device",
      "--relay",
      tcp,
      "--name",
      "j",
      "--json",
      "--state",
      `${dir}/d`,
    ]);
    procs.push(device);
    await device.waitFor(/^\{"event":"device\.ready"/);
    const client = await run([
      "client",
      "--relay",
      `ws://${ws}`,
      "--to",
      "j",
      "--count",
      "3",
      "--json",
      "--state",
      `${dir}/c`,
    ]);
    assert.equal(client.code, 0, client.stderr);
    const got = events(client.stdout.trimEnd().split("\n"));
    assert.deepEqual(got.map((e) => e.event).filter((e) => e !== "warning"), [
      "client",
      "client.connected",
      "client.done",
    ]);
    const done = got.at(-1) as unknown as Record<string, unknown>;
    assert.equal(done.delivered, 3);
    assert.equal(done.failed, 0);
    assert.equal(done.level, "exactly-once");
    assert.equal(done.handshakes, 1);
    assert.equal(client.stderr, "", "warnings go to stdout as events in JSON mode");
    await device.waitFor(/^\{"event":"client\.connected","identifier":"I[0-9a-f]{64}"\}$/);
    for (const p of procs) await p.stop();
    for (const p of procs) assert.doesNotThrow(() => events(p.lines), p.lines.join("\n"));
    assert(events(relay.lines).some((e) => e.event === "relay.registered"));
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
