/**
 * Builds the ESM bundles and runs the runtime scenario on every runtime: Deno (from
 * source, as a Deno test), Node 20, Bun, Chromium and workerd (from the build), the
 * WebSocket part against one hub (relay + device) in a Deno child process; Deno, Node and
 * Bun also run the TCP part (`tcp_scenario.ts`: the Node adapter on `node:net`, over real
 * TCP to the hub's Deno relay). Prints a table
 * and a closing `N passed, N failed` line; exits 1 if any runtime failed or is missing.
 *
 * Run through `run.sh` (which installs the runtimes first): `deno task test:runtimes`.
 *
 * @module
 */
import type { HubInfo, ScenarioReport as WebReport } from "./scenario.ts";
import type { TcpReport } from "./tcp_scenario.ts";

/** The scenario's report, with the TCP part where the runtime ran it. */
type ScenarioReport = WebReport & { tcpChannel?: TcpReport };

const here = new URL(".", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;
const config = `${root}deno.json`;
const deno = Deno.execPath();
const bin = (name: string) => `${here}node_modules/.bin/${name}`;
const RUNTIME_TIMEOUT = 150_000;

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  report?: ScenarioReport;
  error?: string;
}

async function run(
  cmd: string,
  args: string[],
  options: { timeout?: number; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // In a session of its own, so a timeout kills the whole group: a driver and the
  // workerd or Chromium it started.
  const child = new Deno.Command("setsid", {
    args: [cmd, ...args],
    cwd: options.cwd ?? root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeout ?? RUNTIME_TIMEOUT);
  const out = await child.output();
  clearTimeout(timer);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}

async function version(cmd: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await run(cmd, args, { timeout: 30_000 });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`);
  return stdout.trim().split("\n")[0]!;
}

async function build(): Promise<void> {
  await Deno.remove(`${here}dist`, { recursive: true }).catch(() => {});
  for (
    const [entry, out, platform] of [
      ["scenario.ts", "web", "browser"],
      ["worker.ts", "worker", "browser"],
      // The TCP part imports node:net (the Node adapter): built for Node and Bun only.
      ["tcp_scenario.ts", "node", "node"],
    ]
  ) {
    const { code, stderr } = await run(deno, [
      "bundle",
      `--config=${config}`,
      `--platform=${platform}`,
      "--code-splitting",
      // Minified: `deno test --doc` collects dist/*.js too (it does not honour .gitignore)
      // and would try to run the JSDoc examples left in an unminified bundle.
      "--minify",
      "--sourcemap=linked",
      `--outdir=${here}dist/${out}`,
      `${here}${entry}`,
    ]);
    if (code !== 0) throw new Error(`deno bundle ${entry} failed:\n${stderr}`);
  }
}

async function startHub(): Promise<{ info: HubInfo; stop(): Promise<void> }> {
  const child = new Deno.Command(deno, {
    args: ["run", "--allow-net", `--config=${config}`, `${here}hub.ts`],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`the hub exited before printing its address: '${line}'`);
    }
    line += value;
  }
  clearTimeout(timer);
  void reader.cancel().catch(() => {});
  return {
    info: JSON.parse(line) as HubInfo,
    async stop() {
      await child.stdin.close(); // the hub exits when its stdin closes
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(killer);
    },
  };
}

/** Runs one driver that prints `REPORT <json>`; checks what the scenario cannot know. */
async function runtime(
  name: string,
  cmd: string,
  args: string[],
  expect: (r: ScenarioReport) => string | undefined = () => undefined,
): Promise<Outcome> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  console.log(`--- ${name}`);
  try {
    const { code, stdout, stderr } = await run(cmd, args);
    const line = stdout.split("\n").find((l) => l.startsWith("REPORT "));
    if (code !== 0 || !line) {
      return {
        name,
        ok: false,
        seconds: seconds(),
        error: `exit code ${code}\n${stdout}${stderr}`,
      };
    }
    const report = JSON.parse(line.slice("REPORT ".length)) as ScenarioReport;
    const problem = report.websocketChannel === "skipped"
      ? "the WebSocket part was skipped"
      : expect(report);
    if (problem) {
      return { name, ok: false, seconds: seconds(), report, error: problem };
    }
    return { name, ok: true, seconds: seconds(), report };
  } catch (error) {
    return { name, ok: false, seconds: seconds(), error: String(error) };
  }
}

async function denoTest(): Promise<Outcome> {
  const started = performance.now();
  console.log("--- deno");
  const { code, stdout, stderr } = await run(deno, [
    "test",
    "--allow-all",
    `--config=${config}`,
    `${here}deno_test.ts`,
  ]);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const line = stdout.split("\n").find((l) => l.startsWith("REPORT "));
  const report = line ? JSON.parse(line.slice("REPORT ".length)) as ScenarioReport : undefined;
  if (code !== 0) {
    return {
      name: "deno",
      ok: false,
      seconds,
      error: `exit code ${code}\n${stdout}${stderr}`,
    };
  }
  const problem = report ? tcpRan(report) : undefined;
  if (problem) {
    return {
      name: "deno",
      ok: false,
      seconds,
      ...(report ? { report } : {}),
      error: problem,
    };
  }
  return { name: "deno", ok: true, seconds, ...(report ? { report } : {}) };
}

/** Node, Bun and Deno must have run the TCP part through the hub's relay. */
function tcpRan(r: ScenarioReport): string | undefined {
  return r.tcpChannel && r.tcpChannel.messages > 0
    ? undefined
    : "the TCP part (tcp_scenario.ts) did not run";
}

function yn(b: boolean | undefined): string {
  return b === undefined ? "?" : b ? "yes" : "no";
}

function table(outcomes: Outcome[]): string {
  const rows = [[
    "runtime",
    "result",
    "s",
    "WebCrypto X25519/Ed25519/X448",
    "noble after vectors/X448/channel",
    "memory msgs",
    "WebSocket via relay",
    "TCP (node:net) via relay",
  ]];
  for (const o of outcomes) {
    const r = o.report;
    rows.push([
      r?.runtime ?? o.name,
      o.ok ? "PASS" : "FAIL",
      String(o.seconds),
      r
        ? [r.webCrypto.X25519, r.webCrypto.Ed25519, r.webCrypto.X448].map(yn)
          .join("/")
        : "-",
      r
        ? [r.noble.afterCoreVectors, r.noble.afterX448, r.noble.afterChannel]
          .map(yn).join("/")
        : "-",
      r ? String(r.memoryChannel.messages) : "-",
      r && r.websocketChannel !== "skipped"
        ? `${r.websocketChannel.messages} msgs, ${r.websocketChannel.relay}`
        : "-",
      r?.tcpChannel ? `${r.tcpChannel.messages} msgs, ${r.tcpChannel.relay}` : "-",
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")).join("\n");
}

const started = performance.now();
console.log("building tests/runtimes/dist (deno bundle)");
await build();

const versions = {
  node: await version("node", ["--version"]),
  bun: await version(bin("bun"), ["--version"]),
  workerd: await version(bin("workerd"), ["--version"]),
};
const outcomes: Outcome[] = [await denoTest()];
const hub = await startHub();
console.log(`hub: ${JSON.stringify(hub.info)}`);
const hubJson = JSON.stringify(hub.info);
try {
  outcomes.push(
    await runtime(
      "node",
      "node",
      [
        "--experimental-websocket", // Node 20 has WebSocket only behind this flag (22: default)
        "--no-warnings",
        "--enable-source-maps",
        `${here}cli_driver.mjs`,
        `node ${versions.node}`,
        hubJson,
      ],
      (r) =>
        r.webCrypto.X25519 && r.webCrypto.Ed25519
          ? tcpRan(r)
          : "Node 20's WebCrypto should have X25519 and Ed25519",
    ),
  );
  outcomes.push(
    await runtime("bun", bin("bun"), [
      `${here}cli_driver.mjs`,
      `bun ${versions.bun}`,
      hubJson,
    ], tcpRan),
  );
  outcomes.push(
    await runtime("chromium", "node", [`${here}chromium_driver.mjs`, hubJson]),
  );
  outcomes.push(
    await runtime("workerd", "node", [
      `${here}workerd_driver.mjs`,
      hubJson,
      versions.workerd,
    ]),
  );
} finally {
  await hub.stop();
}

const failed = outcomes.filter((o) => !o.ok);
for (const o of failed) console.log(`\n=== ${o.name} FAILED ===\n${o.error}`);
console.log(`\n${table(outcomes)}`);
console.log(
  `\nruntimes: ${Math.round((performance.now() - started) / 1000)} s after install`,
);
console.log(
  `${outcomes.length - failed.length} passed, ${failed.length} failed`,
);
Deno.exit(failed.length === 0 ? 0 : 1);
