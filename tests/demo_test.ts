import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("the demo runs to completion and reports end-to-end results", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/demo.ts", "--count", "50"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `demo failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /^summary: handshake \d+(\.\d+)? ms through the relay$/m);
  assert.match(stdout, /^summary: telemetry 50\/50 replies, \d+ msg\/s; commands 3\/3 executed$/m);
  const saw = /^summary: relay saw (\d+) frames, (\d+) with plaintext$/m.exec(stdout);
  assert(saw, stdout);
  assert(Number(saw[1]) >= 2 * 50, "every request and reply passed the relay's audit hop");
  assert.equal(saw[2], "0");
  assert.match(stdout, /^summary: refusals 2\/2 as expected/m);
  assert.match(stdout, /^summary: ok in /m);
  assert.match(stdout, /route ws:127\.0\.0\.1:\d+ => audit => forward_to_sensor-1 => api/);
});
