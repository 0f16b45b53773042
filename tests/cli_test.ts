// Subprocess tests of the `sealroute` command: help snapshots, exit codes, --json lines,
// bad input naming the thing at fault and leaving the disk untouched.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}cli/main.ts`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sealroute(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  // Hang guard only: a command that never ends fails the test instead of blocking it.
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(guard);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

for (
  const command of [
    "",
    "identity",
    "relay",
    "device",
    "client",
    "send",
    "listen",
    "status",
    "authority",
    "enroll",
    "outlet",
    "inlet",
  ]
) {
  Deno.test(`sealroute ${command || "(top)"} --help matches its snapshot`, async () => {
    const expected = await Deno.readTextFile(
      `${ROOT}cli/testdata/help_${command || "main"}.txt`,
    );
    for (const flag of ["--help", "-h"]) {
      const run = await sealroute(command ? [command, flag] : [flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, expected);
    }
  });
}

Deno.test("sealroute --version prints deno.json's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const run = await sealroute(["--version"]);
  assert.equal(run.code, 0);
  // With the AES-256-GCM backend it uses: OpenSSL through FFI here (tests run with -A).
  assert.equal(
    run.stdout.trim(),
    `sealroute ${config.version} (aead openssl-ffi, curves node:crypto)`,
  );
});

Deno.test("usage errors exit 2 and name the thing at fault, touching no disk", async () => {
  const home = await Deno.makeTempDir();
  const env = { XDG_STATE_HOME: home };
  try {
    const cases: [string[], RegExp][] = [
      [["relay", "--port", "99999"], /error \[usage\]: --port 99999/],
      [["relay", "--ws-port", "70000"], /error \[usage\]: --ws-port 70000/],
      [["relay", "--bogus"], /error \[usage\]: .*--bogus/],
      [["device", "--name", "x", "--relay", "nonsense"], /error \[usage\]: .*nonsense/],
      [["device", "--relay", "127.0.0.1:1", "--name", "bad name"], /error \[usage\]: --name/],
      [["client", "--relay", "127.0.0.1:1"], /error \[usage\]/],
      [["send", "--to", "x", "hi"], /error \[usage\]: usage: send/],
      [["send", "--to", "x", "--worker", "echo", "--relay", "h:0", "hi"], /--relay 'h:0'/],
      [["identity", "frobnicate"], /error \[usage\]: identity expects/],
      [["identity", "show", "--role", "nobody"], /error \[usage\]: --role/],
      [["relay", "--log-level", "loud"], /error \[usage\]: --log-level/],
      [["no-such-command"], /error \[usage\]: unknown command 'no-such-command'/],
    ];
    for (const [args, pattern] of cases) {
      const run = await sealroute(args, env);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, pattern, args.join(" "));
      assert.doesNotMatch(run.stderr, /unexpected/);
    }
    assert.deepEqual(await listing(home), []);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("identity create/show/list: --json lines parse, and the identifier is stable", async () => {
  const home = await Deno.makeTempDir();
  const env = { XDG_STATE_HOME: home };
  try {
    const missing = await sealroute(["identity", "show", "--role", "device"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error \[no-identity\]: .*sealroute\/device/);
    assert.deepEqual(await listing(home), []);

    const created = await sealroute(["identity", "create", "--role", "device", "--json"], env);
    assert.equal(created.code, 0, created.stderr);
    const first = JSON.parse(created.stdout.trim());
    assert.equal(first.name, "device");
    assert.match(first.identifier, /^I[0-9a-f]{64}$/);
    assert.equal(first.state, `${home}/sealroute/device`);

    const shown = await sealroute(["identity", "show", "--role", "device", "--json"], env);
    assert.equal(JSON.parse(shown.stdout.trim()).identifier, first.identifier);
    const listed = await sealroute(["identity", "list", "--role", "device", "--json"], env);
    const lines = listed.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.identifier), [first.identifier]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an unwritable state directory is named, with code state-unwritable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    const state = `${dir}/file/state`;
    const run = await sealroute(["identity", "create", "--state", state]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`error \\[state-unwritable\\]: .*${state}`));
    assert.equal(await Deno.readTextFile(`${dir}/file`), "not a directory");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port in use is named, with code address-in-use", async () => {
  const home = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const run = await sealroute(
      ["relay", "--port", String(port), "--ws-port", "0", "--state", `${home}/relay`],
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`error \\[address-in-use\\]: port ${port}`));
  } finally {
    taken.close();
    await Deno.remove(home, { recursive: true });
  }
});
