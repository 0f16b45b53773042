// Known answers come at once, with their own codes: an unknown relay name (`unknown-name`),
// a device pointed at a port that speaks HTTP (the relay's WebSocket port, an edge relay, any
// web server: `wrong-protocol`) and a refused registration (`relay-refused`). Every run here
// is given a 30 s handshake timeout: ending with the code (not `handshake-timeout`) shows
// the answer did not wait for it.
import assert from "node:assert/strict";
import { Proc, run } from "./_proc.ts";

const SLOW = ["--timeout", "30000"];

async function relayFor(dir: string) {
  const relay = new Proc(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`]);
  const [, tcp, ws] = await relay.waitFor(/^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/);
  return { relay, tcp: tcp!, ws: ws! };
}

Deno.test("an unknown relay name: client and send fail with unknown-name, naming it", async () => {
  const dir = await Deno.makeTempDir();
  const { relay, ws, tcp } = await relayFor(dir);
  try {
    const client = await run([
      ...["client", "--relay", `ws://${ws}`, "--to", "nosuch", "--state", `${dir}/c`],
      ...SLOW,
    ]);
    assert.equal(client.code, 1, client.stderr);
    assert.match(
      client.stderr,
      new RegExp(
        `^error \\[unknown-name\\]: no device is registered as 'nosuch' at the relay ws://${ws}`,
        "m",
      ),
    );
    const send = await run([
      ...["send", "--relay", `tcp://${tcp}`, "--to", "nosuch", "--worker", "echo", "hi"],
      ...["--state", `${dir}/c`, ...SLOW],
    ]);
    assert.equal(send.code, 1, send.stderr);
    assert.match(send.stderr, /^error \[unknown-name\]: no device is registered as 'nosuch'/m);
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a device pointed at an HTTP port (the relay's WebSocket port, a web server) fails with wrong-protocol", async () => {
  const dir = await Deno.makeTempDir();
  const { relay, ws } = await relayFor(dir);
  await using web = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("an edge relay's index page"),
  );
  try {
    for (const target of [ws, `127.0.0.1:${web.addr.port}`]) {
      const device = await run([
        ...["device", "--relay", target, "--name", "d", "--state", `${dir}/d`],
        ...SLOW,
      ]);
      assert.equal(device.code, 1, device.stderr);
      assert.match(
        device.stderr,
        new RegExp(`^error \\[wrong-protocol\\]: .*${target}.*HTTP`, "m"),
      );
    }
  } finally {
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a name held by another identity: relay-refused at once", async () => {
  const dir = await Deno.makeTempDir();
  const { relay, tcp } = await relayFor(dir);
  const holder = new Proc(["device", "--relay", tcp, "--name", "taken", "--state", `${dir}/a`]);
  try {
    await holder.waitFor(/^device ready /);
    const other = await run([
      ...["device", "--relay", tcp, "--name", "taken", "--state", `${dir}/b`],
      ...SLOW,
    ]);
    assert.equal(other.code, 1, other.stderr);
    assert.match(other.stderr, /^error \[relay-refused\]: the relay refused the name 'taken'/m);
  } finally {
    await holder.stop();
    await relay.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
