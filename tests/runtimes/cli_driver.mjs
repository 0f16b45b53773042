// Runs the scenario from the ESM build on Node (`node --experimental-websocket
// --enable-source-maps`) or Bun:
//   <runtime> tests/runtimes/cli_driver.mjs <runtime-name> [hub-json]
// then, when the hub listens on TCP, the TCP part (tcp_scenario.ts, the Node adapter on
// node:net, from the Node-platform build) whose result is the report's `tcpChannel`.
// Prints one line `REPORT <json>`; exits 1 with the error on failure.
import { runScenario } from "./dist/web/scenario.js";

const [runtime = "unknown", hubJson] = process.argv.slice(2);
try {
  const hub = hubJson ? JSON.parse(hubJson) : undefined;
  const log = (line) => console.error(`[${runtime}] ${line}`);
  const report = await runScenario({ runtime, ...(hub ? { hub } : {}), log });
  if (hub?.tcp) {
    const { runTcpScenario } = await import("./dist/node/tcp_scenario.js");
    report.tcpChannel = await runTcpScenario(hub);
    log(
      `TCP channel via ${hub.tcp} ${hub.relay}: ${report.tcpChannel.messages} messages`,
    );
  }
  console.log(`REPORT ${JSON.stringify(report)}`);
  process.exit(0);
} catch (error) {
  console.error(`[${runtime}] FAILED:`, error);
  process.exit(1);
}
