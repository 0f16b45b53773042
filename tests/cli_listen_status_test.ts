// Subprocess tests of `sealroute listen` and `sealroute status`: relay + listen + send end
// to end (text and --json lines parsed), status for an operator and refused to anyone else,
// --operator next to --trust, and usage errors.
import assert from "node:assert/strict";
import { createSecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import { createIdentity, trustIdentifiers } from "../identity/mod.ts";
import { createRelay, Node, STATIC_RELAY_SERVICE_ADDRESS } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { startRelayNode } from "../cli/_relay.ts";

import { Proc, run } from "./_proc.ts";

/** Creates the identity of `role` in `state` and returns its identifier. */
async function identity(role: string, state: string): Promise<string> {
  const r = await run(["identity", "create", "--role", role, "--state", state, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const { identifier } = JSON.parse(r.stdout);
  assert.match(identifier, /^I[0-9a-f]{64}$/);
  return identifier;
}

const READY = /^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/;

Deno.test("listen + send + status: messages printed and answered ok, status for operators only", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  try {
    const operator = await identity("operator", `${dir}/op`);
    const relay = new Proc([
      ...["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`],
      ...["--operator", operator],
    ]);
    procs.push(relay);
    const [, tcp, ws] = await relay.waitFor(READY);
    assert.doesNotMatch(relay.stderr, /nobody may ask/);

    const text = new Proc(["listen", "--relay", tcp!, "--name", "box", "--state", `${dir}/l1`]);
    procs.push(text);
    const [, boxId] = await text.waitFor(
      /^listen ready identifier=(I\S+) name=box relay=forward_to_box worker=inbox$/,
    );
    const json = new Proc([
      ...["listen", "--relay", tcp!, "--name", "jbox", "--worker", "mail"],
      ...["--json", "--state", `${dir}/l2`],
    ]);
    procs.push(json);
    const [readyLine] = await json.waitFor(/^\{"event":"listen\.ready".*$/);
    const jready = JSON.parse(readyLine!);
    assert.equal(jready.name, "jbox");
    assert.equal(jready.worker, "mail");

    // Text mode: one line per message, the text quoted and escaped; send prints the reply.
    const message = 'hello "there"\nsecond line';
    const sent = await run([
      ...["send", "--relay", `ws://${ws}`, "--to", "box", "--worker", "inbox"],
      ...["--state", `${dir}/client`, message],
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "ok\n");
    const client = await identity("client", `${dir}/client`);
    const [, from, bytes, quoted] = await text.waitFor(
      /^message from=(I\S+) worker=inbox bytes=(\d+) text=(.*)$/,
    );
    assert.equal(from, client);
    assert.equal(Number(bytes), new TextEncoder().encode(message).length);
    assert.equal(JSON.parse(quoted!), message); // \" \n escapes, as in JSON
    assert.ok(!quoted!.includes("\n"));

    // JSON mode: the full text in a parsed object.
    const long = `héllo ${"x".repeat(300)}`;
    const jsent = await run([
      ...["send", "--relay", `ws://${ws}`, "--to", "jbox", "--worker", "mail"],
      ...["--state", `${dir}/client`, "--json", long],
    ]);
    assert.equal(jsent.code, 0, jsent.stderr);
    assert.deepEqual(JSON.parse(jsent.stdout), {
      event: "reply",
      to: "jbox",
      worker: "mail",
      reply: "ok",
    });
    const [messageLine] = await json.waitFor(/^\{"event":"message".*$/);
    const event = JSON.parse(messageLine!);
    assert.deepEqual(event, {
      event: "message",
      from: client,
      worker: "mail",
      bytes: new TextEncoder().encode(long).length,
      text: long,
    });

    // status, text: one line per name, then the count.
    const jboxId = jready.identifier;
    const status = await run(["status", "--relay", `ws://${ws}`, "--state", `${dir}/op`]);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trim().split("\n");
    assert.equal(lines.at(-1), "status count=2");
    const listed = lines.slice(0, -1).map((l) => {
      const m = /^registered name=(\S+) identity=(I\S+) since=(\S+) online=true queued=0$/.exec(l);
      assert.ok(m, l);
      assert.ok(!Number.isNaN(Date.parse(m[3]!)), l);
      return [m[1], m[2]];
    }).sort();
    assert.deepEqual(listed, [["box", boxId], ["jbox", jboxId]]);

    // status, JSON over TCP.
    const jstatus = await run([
      ...["status", "--relay", `tcp://${tcp}`, "--state", `${dir}/op`, "--json"],
    ]);
    assert.equal(jstatus.code, 0, jstatus.stderr);
    const events = jstatus.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.at(-1), { event: "status", count: 2 });
    assert.deepEqual(
      events.slice(0, -1).map((e) => [e.event, e.name, e.identity]).sort(),
      [["registered", "box", boxId], ["registered", "jbox", jboxId]],
    );

    // Anyone else: refused, told which identifier to add; the relay warns.
    const other = await identity("operator", `${dir}/other`);
    const refused = await run(["status", "--relay", `ws://${ws}`, "--state", `${dir}/other`]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(refused.stdout, "");
    assert.match(
      refused.stderr,
      new RegExp(`^error \\[not-operator\\]: .*start the relay with --operator ${other}$`, "m"),
    );
    assert.match(relay.stderr, new RegExp(`status refused a request.*${other}`));

    // SIGTERM: the listener stops cleanly.
    const stopped = await text.stop();
    assert.equal(stopped.code, 0, text.stderr);
    assert.equal(text.lines.at(-1), "listen stopping");
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("relay --trust with --operator: the operator may ask status; nobody else gets a channel", async () => {
  const dir = await Deno.makeTempDir();
  const procs: Proc[] = [];
  try {
    const operator = await identity("operator", `${dir}/op`);
    const listener = await identity("listen", `${dir}/l`);
    const relay = new Proc([
      ...["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/relay`],
      ...["--trust", listener, "--operator", operator],
    ]);
    procs.push(relay);
    const [, tcp, ws] = await relay.waitFor(READY);
    const listen = new Proc(["listen", "--relay", tcp!, "--name", "box", "--state", `${dir}/l`]);
    procs.push(listen);
    await listen.waitFor(/^listen ready /);
    const status = await run(["status", "--relay", `ws://${ws}`, "--state", `${dir}/op`]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      new RegExp(
        `^registered name=box identity=${listener} since=\\S+ online=true queued=0\nstatus count=1\n$`,
      ),
    );
    // Neither trusted nor an operator: no channel at all (exit 1, not a usage error).
    const otherId = await identity("operator", `${dir}/other`);
    const other = await run([
      ...["status", "--relay", `ws://${ws}`, "--state", `${dir}/other`, "--timeout", "2000"],
    ]);
    assert.equal(other.code, 1, other.stderr);
    assert.match(
      other.stderr,
      new RegExp(`^error \\[[a-z-]+\\]: .*closed the channel.*--operator ${otherId}\\)`, "m"),
    );
    assert.doesNotMatch(other.stderr, /unexpected/);
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listen and status usage errors exit 2, touching no disk", async () => {
  const home = await Deno.makeTempDir();
  try {
    const cases: [string[], RegExp][] = [
      [["listen", "--relay", "127.0.0.1:1"], /error \[usage\]: usage: listen/],
      [["listen", "--relay", "127.0.0.1:1", "--name", "a", "--worker", "echo"], /--worker 'echo'/],
      [["listen", "--relay", "nonsense", "--name", "a"], /error \[usage\]: .*nonsense/],
      [["status"], /error \[usage\]: usage: status/],
      [["status", "--relay", "127.0.0.1:1", "--relay-id", "Ibad"], /error \[usage\]: --relay-id/],
      [["status", "--relay", "127.0.0.1:1", "--bogus"], /error \[usage\]: .*--bogus/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run([...args, "--state", `${home}/state`]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(" "));
    }
    assert.deepEqual([...Deno.readDirSync(home)], []);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("startRelayNode: registrants limit who registers; operators' channels get status", async () => {
  const relayId = await createIdentity(new Vault());
  const device = await createIdentity(new Vault());
  const operator = await createIdentity(new Vault());
  await using relay = await startRelayNode({
    identity: relayId,
    trustPolicy: trustIdentifiers(device.identifier, operator.identifier),
    registrants: [device.identifier],
    operators: [operator.identifier],
  });
  await using node = new Node();
  const connection = await connectTcp(node, relay.tcp);
  const open = (identity: typeof device) =>
    createSecureChannel(node, connection.route.append("api"), { identity, timeout: 5000 });
  const asOperator = await open(operator);
  const asDevice = await open(device);
  // The operator has a channel but may not register a name: the request is dropped.
  await assert.rejects(
    createRelay(node, [asOperator.address], "op", {
      service: STATIC_RELAY_SERVICE_ADDRESS,
      timeout: 500,
    }),
    (e) => e instanceof SealrouteError && e.code === "timeout",
  );
  await createRelay(node, [asDevice.address], "dev", {
    service: STATIC_RELAY_SERVICE_ADDRESS,
    timeout: 5000,
  });
  const ask = async (channel: typeof asDevice) =>
    new TextDecoder().decode(
      (await channel.request("status", new Uint8Array(), { timeout: 5000 })).payload,
    );
  const status = JSON.parse(await ask(asOperator));
  assert.equal(status.count, 1);
  assert.deepEqual(
    status.names.map((n: { name: string; identity: string }) => [n.name, n.identity]),
    [
      ["dev", device.identifier],
    ],
  );
  assert.match(await ask(asDevice), /^error:not-operator: /);
  await asOperator.close();
  await asDevice.close();
});
