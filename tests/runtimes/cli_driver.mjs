// Runs the scenario from the ESM build on Node (`node --experimental-websocket
// --enable-source-maps`) or Bun:
//   <runtime> tests/runtimes/cli_driver.mjs <runtime-name> [hub-json]
// Prints one line `REPORT <json>`; exits 1 with the error on failure.
import { runScenario } from "./dist/web/scenario.js";

const [runtime = "unknown", hubJson] = process.argv.slice(2);
try {
  const report = await runScenario({
    runtime,
    ...(hubJson ? { hub: JSON.parse(hubJson) } : {}),
    log: (line) => console.error(`[${runtime}] ${line}`),
  });
  console.log(`REPORT ${JSON.stringify(report)}`);
  process.exit(0);
} catch (error) {
  console.error(`[${runtime}] FAILED:`, error);
  process.exit(1);
}
