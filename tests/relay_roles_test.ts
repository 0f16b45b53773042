// The three roles of the examples (relay, device, client) as real processes on loopback.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

/** A child process running one example, with its output collected line by line. */
class Role {
  readonly name: string;
  readonly lines: string[] = [];
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  #waiters = new Set<() => void>();
  #exited = false;

  constructor(name: string, script: string, args: string[]) {
    this.name = name;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `examples/${script}`, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const out = (async () => {
      let pending = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        const parts = pending.split("\n");
        pending = parts.pop()!;
        this.lines.push(...parts);
        this.#wake();
      }
      if (pending) this.lines.push(pending);
    })();
    const err = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
    this.#reading = Promise.all([out, err]).then(() => {
      this.#exited = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** The `nth` stdout line matching `pattern` (default the first), waiting up to `ms`. */
  async waitFor(pattern: RegExp, ms = 8000, nth = 1): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    while (true) {
      let seen = 0;
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match && ++seen === nth) return match;
      }
      const left = deadline - Date.now();
      if (this.#exited || left <= 0) {
        throw new Error(
          `${this.name}: no line matching ${pattern} (${this.#exited ? "exited" : "timed out"})\n` +
            `stdout:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.#waiters;
        waiters.add(done);
      });
    }
  }

  /** Waits for the process to exit (up to `ms`) and returns its exit code. */
  async exit(ms = 8000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${ms} ms`)), ms);
    });
    try {
      const status = await Promise.race([this.#child.status, timeout]);
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: Deno.Signal = "SIGKILL"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  /** Kills (if still running) and releases everything. */
  async dispose(): Promise<void> {
    this.kill();
    await this.#child.status;
    await this.#reading;
  }

  get output(): string {
    return `stdout:\n${this.lines.join("\n")}\nstderr:\n${this.stderr}`;
  }
}

Deno.test("relay, device and client processes: flow, device loss, restart, name ownership", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sealroute-roles-" });
  const roles: Role[] = [];
  const start = (name: string, script: string, args: string[]): Role => {
    const role = new Role(name, script, args);
    roles.push(role);
    return role;
  };
  try {
    const relay = start("relay", "relay.ts", [
      "--port",
      "0",
      "--ws-port",
      "0",
      "--state",
      `${dir}/relay`,
    ]);
    const ready = await relay.waitFor(
      /^relay ready identifier=(I[0-9a-f]{64}) tcp=(\S+) ws=(\S+)$/,
    );
    const [, , tcp, ws] = ready as unknown as [string, string, string, string];

    const deviceArgs = (state: string) => [
      "--relay",
      tcp,
      "--name",
      "sensor",
      "--state",
      `${dir}/${state}`,
      "--timeout",
      "2000",
    ];
    // The request/reply telemetry path (`--delivery none`); the reliable stream is the
    // default and is tested in cli_heal_test.ts.
    const clientArgs = (...extra: string[]) => [
      "--delivery",
      "none",
      "--relay",
      ws,
      "--to",
      "sensor",
      "--state",
      `${dir}/client`,
      "--timeout",
      "1000",
      ...extra,
    ];

    // A device registers its name; a client reaches it end to end through the relay.
    const device = start("device", "device.ts", deviceArgs("device-a"));
    const [, deviceId] = await device.waitFor(
      /^device ready identifier=(I[0-9a-f]{64}) name=sensor relay=forward_to_sensor /,
    ) as unknown as [string, string];
    await relay.waitFor(
      new RegExp(`^relay registered name=forward_to_sensor identity=${deviceId}$`),
    );

    const client = start("client", "client.ts", clientArgs("--count", "20"));
    // Meanwhile another identity asks for the same name: refused, clear error.
    const intruder = start("intruder", "device.ts", deviceArgs("device-b"));
    assert.equal(await client.exit(), 0, client.output);
    assert(client.lines.some((l) => /^client done replies=20\/20 /.test(l)), client.output);
    assert(client.lines.some((l) => l === "command status reply=ok: status"), client.output);
    assert.equal(await intruder.exit(), 1, intruder.output);
    assert.match(intruder.stderr, /^error \[relay-refused\]: the relay refused the name 'sensor'/m);
    assert.doesNotMatch(intruder.stderr, /^\s+at /m, "no stack trace");

    // Killing the device removes its relay; a client in the middle of a run retries, then
    // gets a typed error that blames the device, not the relay (which is up).
    const longClient = start(
      "long client",
      "client.ts",
      clientArgs("--count", "100000", "--interval", "10", "--give-up", "3000"),
    );
    await longClient.waitFor(new RegExp(`^client connected device=${deviceId} `));
    await new Promise((r) => setTimeout(r, 200));
    device.kill("SIGKILL");
    // The relay keeps the name for the device (store-and-forward) while its link is down.
    await relay.waitFor(/^relay offline name=forward_to_sensor$/);
    assert.equal(await longClient.exit(), 1, longClient.output);
    assert.match(
      longClient.stderr,
      /^error \[device-unreachable\]: device 'sensor' has not answered for \d+ s although the relay at ws:\/\/127\.0\.0\.1:\d+ is up: the device is offline or no longer registered there/m,
    );
    assert.doesNotMatch(longClient.stderr, /^\s+at /m, "no stack trace");

    // The device restarts with the same state: same identity, the name is its again.
    const restarted = start("restarted device", "device.ts", deviceArgs("device-a"));
    await restarted.waitFor(new RegExp(`^device ready identifier=${deviceId} name=sensor `));
    // Two processes cannot share one state directory: the second is told which one holds it.
    const sharing = start("sharing device", "device.ts", deviceArgs("device-a"));
    assert.equal(await sharing.exit(), 1, sharing.output);
    assert.match(
      sharing.stderr,
      new RegExp(`^error \\[state-locked\\]: the state directory ${dir}/device-a is in use`, "m"),
    );
    // A second instance with the same identity (a copy of the state) takes the name over...
    for (const sub of ["keys", "identities"]) {
      await Deno.mkdir(`${dir}/device-a2/${sub}`, { recursive: true });
      for await (const e of Deno.readDir(`${dir}/device-a/${sub}`)) {
        await Deno.copyFile(
          `${dir}/device-a/${sub}/${e.name}`,
          `${dir}/device-a2/${sub}/${e.name}`,
        );
      }
    }
    const takeover = start("takeover device", "device.ts", deviceArgs("device-a2"));
    await takeover.waitFor(new RegExp(`^device ready identifier=${deviceId} name=sensor `));
    await relay.waitFor(
      new RegExp(`^relay registered name=forward_to_sensor identity=${deviceId}$`),
      8000,
      3,
    );
    // ...another identity still cannot, and a client that pins another device refuses it.
    const intruder2 = start("intruder 2", "device.ts", deviceArgs("device-b"));
    const wary = start(
      "wary client",
      "client.ts",
      clientArgs("--count", "1", "--trust", `I${"0".repeat(64)}`, "--state", `${dir}/client-wary`),
    );
    const after = start("client after restart", "client.ts", clientArgs("--count", "5"));
    assert.equal(await intruder2.exit(), 1, intruder2.output);
    assert.match(intruder2.stderr, /^error \[relay-refused\]: /m);
    assert.equal(await wary.exit(), 1, wary.output);
    assert.match(
      wary.stderr,
      /^error \[untrusted-peer\]: the device under 'sensor' is not one --trust names/m,
    );
    assert.equal(await after.exit(), 0, after.output);
    assert(after.lines.some((l) => /^client done replies=5\/5 /.test(l)), after.output);
  } finally {
    await Promise.all(roles.map((r) => r.dispose()));
    await Deno.remove(dir, { recursive: true });
  }
});
