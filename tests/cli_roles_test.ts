// Subprocess tests of the role commands: relay + device + `send` end to end, `--json`
// reply, the state-directory lock, and a same-identity takeover (the first device exits replaced).
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}cli/main.ts`;

/** A running `sealroute` subcommand whose stdout lines can be awaited. */
class Proc {
  readonly child: Deno.ChildProcess;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  readonly done: Promise<Deno.CommandStatus>;
  stderr = "";

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    void this.#read(this.child.stdout, (line) => this.#lines.push(line));
    const errDone = this.#read(this.child.stderr, (line) => this.stderr += `${line}\n`);
    this.done = Promise.all([this.child.status, errDone]).then(([s]) => s);
  }

  async #read(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        onLine(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    const guard = setTimeout(() => this.child.kill("SIGKILL"), 60_000); // hang guard
    try {
      for (let seen = 0;;) {
        for (; seen < this.#lines.length; seen++) {
          const m = pattern.exec(this.#lines[seen]!);
          if (m) return m;
        }
        const exited = await Promise.race([
          new Promise<false>((r) => this.#waiters.push(() => r(false))),
          this.done.then(() => true),
        ]);
        if (exited && seen >= this.#lines.length) {
          throw new Error(`no line matching ${pattern}; stderr: ${this.stderr}`);
        }
      }
    } finally {
      clearTimeout(guard);
    }
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited */ }
    await this.done;
  }
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // hang guard
  const out = await child.output();
  clearTimeout(guard);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

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
