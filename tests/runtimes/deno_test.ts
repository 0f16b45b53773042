// The runtime scenario on Deno, from source. The hub runs in a child process so the
// scenario's isolate starts with the noble fallback unloaded, as on the other runtimes.
import assert from "node:assert/strict";
import { type HubInfo, runScenario } from "./scenario.ts";
import { runTcpScenario } from "./tcp_scenario.ts";

Deno.test("runtime scenario on Deno: vectors, lazy fallback, identities, channels in memory, via a WebSocket relay and over TCP (node:net)", async () => {
  const hub = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      new URL("./hub.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = hub.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`hub exited before printing its address: '${line}'`);
      }
      line += value;
    }
    const info = JSON.parse(line) as HubInfo;
    const report = await runScenario({
      runtime: `deno ${Deno.version.deno}`,
      hub: info,
    });
    // The TCP part through Deno's node:net (the Node adapter) to the hub's Deno relay.
    const tcpChannel = await runTcpScenario(info);
    console.log(`REPORT ${JSON.stringify({ ...report, tcpChannel })}`); // read by run.ts
    assert.deepEqual(tcpChannel, {
      messages: 40,
      relay: info.relay,
      largest: 200_000,
    });
    assert.equal(report.webCrypto.X25519, true, "Deno's WebCrypto has X25519");
    assert.equal(
      report.webCrypto.Ed25519,
      true,
      "Deno's WebCrypto has Ed25519",
    );
    assert.equal(report.noble.afterCoreVectors, false);
    assert.deepEqual(report.websocketChannel, {
      messages: 40,
      relay: info.relay,
    });
    void reader.cancel();
  } finally {
    await hub.stdin.close();
    const status = await hub.status;
    assert.equal(status.code, 0, "the hub exits cleanly when its stdin closes");
  }
});
