// Chaos run: a relay, a device and a client as real processes on loopback; for `--seconds`
// (default 60) the relay is killed with SIGKILL and restarted on the same ports (same state
// directory, so its queue) on a seeded schedule (up every 2–5 s, down 0.2–1.5 s). It passes
// when the client is still running and delivering at the end, and the device got every
// delivered message exactly once and in order; it prints what it measured (restarts,
// messages, reconnects, retries, handshakes) and the seed (`--seed N` replays a schedule).
//
//   npx -y deno@2.9.6 task chaos [--seconds 60] [--seed N]
import { parseArgs } from "node:util";
import { seededRandom } from "../../transport/mod.ts";
import { Proc } from "../_proc.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string" }, seed: { type: "string" } },
});
const seconds = Number(values.seconds ?? "60");
const seed = Number(values.seed ?? String(Date.now() % 2 ** 31));
console.log(`chaos: seed=${seed} seconds=${seconds}`);

const next = seededRandom(seed);
const between = (lo: number, hi: number) => Math.round(lo + next() * (hi - lo));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const LIVENESS = ["--heartbeat", "500", "--dead-after", "3000"];
const dir = await Deno.makeTempDir({ prefix: "sealroute-chaos-" });
const procs: Proc[] = [];
const spawn = (args: string[]) => {
  const p = new Proc(args);
  procs.push(p);
  return p;
};
const relayArgs = (tcp: string, ws: string) => [
  "relay",
  "--port",
  tcp,
  "--ws-port",
  ws,
  "--state",
  `${dir}/relay`,
  ...LIVENESS,
];

let failed = "";
try {
  let relay = spawn(relayArgs("0", "0"));
  const [, tcp, ws] = await relay.waitFor(/^relay ready \S+ tcp=\S+:(\d+) ws=\S+:(\d+)$/);
  const device = spawn([
    "device",
    "--relay",
    `127.0.0.1:${tcp}`,
    "--name",
    "chaos",
    "--state",
    `${dir}/device`,
    ...LIVENESS,
  ]);
  await device.waitFor(/^device ready /);
  const client = spawn([
    "client",
    "--relay",
    `ws://127.0.0.1:${ws}`,
    "--to",
    "chaos",
    "--count",
    "100000000",
    "--interval",
    "20",
    "--timeout",
    "2000",
    "--give-up",
    "30000",
    "--state",
    `${dir}/client`,
    ...LIVENESS,
  ]);
  await client.waitFor(/^client connected /);
  const end = Date.now() + seconds * 1000;
  let restarts = 0;
  while (Date.now() < end) {
    await sleep(between(2000, 5000));
    relay.signal("SIGKILL");
    await relay.done;
    await sleep(between(200, 1500));
    relay = spawn(relayArgs(tcp!, ws!));
    await relay.waitFor(/^relay ready /);
    restarts++;
  }
  // After the last restart the client must deliver again, by itself (within 30 s: the
  // links redial with up to 5 s between attempts, then the device registers again).
  const delivered = (line: string) => Number(/ delivered=(\d+)/.exec(line)?.[1] ?? NaN);
  const before = delivered(client.lines.findLast((l) => l.startsWith("progress ")) ?? "");
  const more = /^progress sent=\d+ delivered=(\d+)/;
  let after = "";
  const deadline = Date.now() + 30_000;
  for (let from = client.lines.length; Date.now() < deadline;) {
    const m = await client.waitFor(more, { from, guardMs: 40_000 });
    after = m.input;
    from = client.lines.indexOf(after, from) + 1;
    if (delivered(after) > before) break;
  }
  if (!(delivered(after) > before)) failed = `client stopped delivering: ${after}`;
  const running = await Promise.race([client.done.then(() => false), sleep(100).then(() => true)]);
  if (!running) failed = `client exited: ${client.stderr.split("\n").slice(-3).join(" ")}`;
  console.log(`chaos: restarts=${restarts} last ${after}`);
  console.log(`chaos: device registrations=${1 + device.count(/^device registered /)}`);
  client.signal("SIGTERM");
  const { input: stopped } = await client.waitFor(/^client stopped /, { guardMs: 20_000 });
  console.log(`chaos: ${stopped}`);
  // Exactly once and in order at the device, whatever the relay went through (the client's
  // reliable stream over a channel that survived every restart).
  device.signal("SIGTERM");
  const { input: tally } = await device.waitFor(/^device stopping /, { guardMs: 20_000 });
  console.log(`chaos: ${tally}`);
  const got = Number(/ delivered=(\d+)/.exec(tally)?.[1] ?? NaN);
  if (!/ duplicates=0 out_of_order=0$/.test(tally)) {
    failed ||= `not exactly once in order: ${tally}`;
  }
  if (!(got >= delivered(stopped))) failed ||= `the device got fewer than delivered: ${tally}`;
} catch (error) {
  failed = error instanceof Error ? error.message : String(error);
} finally {
  for (const p of procs) await p.stop();
  await Deno.remove(dir, { recursive: true });
}
if (failed) {
  console.error(`chaos: FAILED (seed=${seed}): ${failed}`);
  Deno.exit(1);
}
console.log("chaos: ok, the client stayed connected");
