// Runs the scenario in workerd: writes a config for the worker bundle in dist/worker/
// (every module of the build, so the lazily imported noble chunk is a separate module),
// starts `workerd serve` on a free loopback port (reported on --control-fd), and asks the
// worker to run the scenario against the hub given as argv[2] (argv[3]: a name for the report). Prints `REPORT <json>`.
import { spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist", "worker");
const workerd = join(here, "node_modules", ".bin", "workerd");
const [hubJson, version = "workerd"] = process.argv.slice(2);
if (!hubJson) {
  throw new Error(
    "usage: node workerd_driver.mjs <hub-json> [workerd-version]",
  );
}

const modules = readdirSync(dist)
  .filter((f) => f.endsWith(".js"))
  .sort((
    a,
    b,
  ) => (a === "worker.js" ? -1 : b === "worker.js" ? 1 : a.localeCompare(b)))
  .map((f) => `    (name = "${f}", esModule = embed "${f}"),`)
  .join("\n");

// workerd's default outbound network allows only public addresses; the hub is on
// loopback, so the worker's globalOutbound is a network service that allows "local".
const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .scenarioWorker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const scenarioWorker :Workerd.Worker = (
  modules = [
${modules}
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "loopback",
);
`;
writeFileSync(join(dist, "config.capnp"), config);

const child = spawn(workerd, [
  "serve",
  "--control-fd=3",
  join(dist, "config.capnp"),
], {
  stdio: ["ignore", "inherit", "inherit", "pipe"],
});
const exited = new Promise((resolve) =>
  child.on("exit", (code, signal) => resolve({ code, signal }))
);
let status = 1;
try {
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("workerd did not report a port within 30 s")),
      30_000,
    );
    void exited.then((e) => reject(new Error(`workerd exited early: ${JSON.stringify(e)}`)));
    createInterface({ input: child.stdio[3] }).on("line", (line) => {
      const event = JSON.parse(line);
      if (event.event === "listen" && event.socket === "http") {
        clearTimeout(timer);
        resolve(event.port);
      }
    });
  });
  const query = new URLSearchParams({ hub: hubJson, runtime: version });
  const url = `http://127.0.0.1:${port}/?${query}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  const body = await response.json();
  if (!body.ok) throw new Error(`the worker failed:\n${body.error}`);
  console.log(`REPORT ${JSON.stringify(body.report)}`);
  status = 0;
} catch (error) {
  console.error("[workerd] FAILED:", error);
} finally {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
process.exit(status);
