// Issue 19: `sealroute relay --nats` on the command line: credentials from the environment, and
// a clear error when the cluster cannot be reached or refuses them.
import assert from "node:assert/strict";
import { Proc, run } from "./_proc.ts";
import { ensureNatsServer } from "./nats/cluster.ts";

const available = await ensureNatsServer();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("relay --nats with nobody listening fails at once with fleet-unreachable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await run([
      ...["relay", "--port", "0", "--ws-port", "0", "--state", dir],
      ...["--nats", `nats://127.0.0.1:${freePort()}`],
    ]);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /error \[fleet-unreachable\]: no NATS server of --nats answered/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "relay --nats takes its NATS credentials from the environment; wrong ones are refused",
  ignore: !available,
  async fn() {
    const dir = await Deno.makeTempDir();
    const port = freePort();
    // User and password through a config file (the password stays off the command line).
    await Deno.writeTextFile(
      `${dir}/nats.conf`,
      `authorization { user: relay, password: "s3cret-pass" }\n`,
    );
    const nats = new Deno.Command("nats-server", {
      args: [
        "-c",
        `${dir}/nats.conf`,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-js",
        "-sd",
        `${dir}/js`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const url = `nats://127.0.0.1:${port}`;
    const relayArgs = [
      ...["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`],
      ...["--nats", url, "--fleet-name", "r1"],
    ];
    let relay: Proc | undefined;
    try {
      for (let i = 0; i < 100; i++) {
        const ok = await Deno.connect({ hostname: "127.0.0.1", port }).then((c) => {
          c.close();
          return true;
        }, () => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const wrong = await run(relayArgs, {
        env: { SEALROUTE_NATS_USER: "relay", SEALROUTE_NATS_PASS: "wrong" },
      });
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /error \[fleet-unreachable\]/);
      assert(!wrong.stderr.includes("wrong"), "no password in the error");
      relay = new Proc(relayArgs, {
        env: { SEALROUTE_NATS_USER: "relay", SEALROUTE_NATS_PASS: "s3cret-pass" },
      });
      const { input } = await relay.waitFor(/^relay ready /);
      assert.match(input, / fleet=r1$/);
      assert(!relay.stderr.includes("s3cret"), "no password in the output");
    } finally {
      await relay?.stop();
      try {
        nats.kill("SIGTERM");
      } catch { /* exited */ }
      await nats.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("relay --max-devices bounds the devices a relay serves: one past it is turned away", async () => {
  const { startRelayNode } = await import("../cli/_relay.ts");
  const { startDevice } = await import("../cli/_device.ts");
  const { identities, LINK } = await import("./_relay_stack.ts");
  const [relayId, first, second] = await identities(3);
  await using relay = await startRelayNode({ identity: relayId!, liveness: LINK, maxDevices: 1 });
  const relayAt = { transport: "tcp" as const, hostPort: relay.tcp };
  const device = await startDevice({
    identity: first!,
    relay: relayAt,
    name: "one",
    timeout: 3000,
    link: { ...LINK, giveUpAfter: 3000 },
  });
  try {
    const refused = await startDevice({
      identity: second!,
      relay: relayAt,
      name: "two",
      timeout: 1500,
      link: { ...LINK, giveUpAfter: 1500 },
    }).then(async (d) => {
      await d.close();
      return undefined;
    }, (error) => error);
    assert(refused instanceof Error, "the second device was served");
    assert.deepEqual(relay.relays.relays(), ["forward_to_one"]);
  } finally {
    await device.close();
  }
});
