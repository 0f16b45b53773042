// An untrusted hop (a relay) tries to talk to workers it must not reach, over real TCP:
// the operator's encryptor (to have its bytes sealed as the operator's), an application
// worker nobody exposed, and the node's TCP transport (to use the node as an open proxy).
import assert from "node:assert/strict";
import { createSecureChannel, createSecureChannelListener } from "../../channel/mod.ts";
import { abacAccessControl } from "../../channel/mod.ts";
import { createIdentity, issueCredential } from "../../identity/mod.ts";
import {
  createRelay,
  type Logger,
  Node,
  type RoutedMessage,
  startEcho,
  startRelayService,
} from "../../routing/mod.ts";
import { connectTcp, listenTcp } from "../../transport/deno.ts";
import { Vault } from "../../vault/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

function flowRefusals(): Logger & { refused: string[] } {
  const refused: string[] = [];
  const none = () => {};
  return {
    refused,
    debug: none,
    info: none,
    error: none,
    warn: (message, fields) => {
      if (message === "flow control refused a message") refused.push(String(fields?.onwardRoute));
    },
  };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), "condition not reached in time");
}

Deno.test("a relay that learned the operator's encryptor address cannot send through it", async () => {
  const operatorLog = flowRefusals();
  await using hub = new Node();
  await using device = new Node();
  await using operatorNode = new Node({ logger: operatorLog });
  const authority = await createIdentity(new Vault());
  const operator = await createIdentity(new Vault());
  await operator.addCredential(
    await issueCredential({
      issuer: authority,
      subject: operator.identity,
      attributes: { role: "operator" },
    }),
  );

  // The relay: a TCP listener, its relay service, and an audit hop it controls.
  await using tcp = listenTcp(hub);
  startRelayService(hub, { consumes: [tcp.flow] });
  const returnRoutes: string[][] = [];
  hub.startWorker("audit", async (ctx) => {
    const m = ctx.message;
    returnRoutes.push([...m.returnRoute].map(String));
    await ctx.forward(
      m.with({
        onwardRoute: m.onwardRoute.popFront(),
        returnRoute: m.returnRoute.prepend("audit"),
      }),
    );
  }, { consumes: [tcp.flow] });

  // The device: dials out, registers, exposes "commands" to operators through its channels.
  const toHub = await connectTcp(device, `127.0.0.1:${tcp.port}`);
  const listener = await createSecureChannelListener(device, "api", {
    identity: await createIdentity(new Vault()),
    authorities: [authority.identity],
    consumes: [toHub.flow],
  });
  const executed: string[] = [];
  device.startWorker("commands", (ctx) => {
    executed.push(untext(ctx.message.payload));
    return ctx.reply(text("done"));
  }, {
    incoming: abacAccessControl('(= subject.role "operator")'),
    consumes: [listener.flow],
  });
  await createRelay(device, toHub.route, "device", { timeout: 5000 });

  // The operator opens a channel through the relay's audit hop and refreshes credentials:
  // the Refresh frame carries its encryptor's address in clear (as Ockam sends it).
  const link = await connectTcp(operatorNode, `127.0.0.1:${tcp.port}`);
  const channel = await createSecureChannel(
    operatorNode,
    link.route.append("audit", "forward_to_device", "api"),
    { identity: operator },
  );
  assert.equal(untext((await channel.request("commands", text("status"))).payload), "done");
  await channel.refreshCredentials();
  await until(() => returnRoutes.some((r) => r.includes(channel.address.toString())));
  const leaked = channel.address.toString();

  // The attack: the relay sends plaintext to that encryptor, asking for "commands", with a
  // worker of its own as the return route.
  const stolen: RoutedMessage[] = [];
  hub.startWorker("thief", (ctx) => void stolen.push(ctx.message), { consumes: [tcp.flow] });
  const operatorConnection = [...tcp.connections].find((c) =>
    returnRoutes.some((r) => r[0] === c.address.toString() && r.includes(leaked))
  );
  assert.ok(operatorConnection, "the relay knows which of its connections is the operator's");
  for (let i = 0; i < 5; i++) {
    await hub.send(operatorConnection.route.append(leaked, "commands"), text("rm -rf /"), {
      from: "thief",
    });
  }
  await until(() => operatorLog.refused.length >= 5);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(executed, ["status"], "the device ran nothing for the relay");
  assert.equal(stolen.length, 0, "the relay read no reply");
  assert.ok(operatorLog.refused.every((r) => r.startsWith(leaked)));

  // The channel and its peer are unharmed.
  assert.equal(untext((await channel.request("commands", text("again"))).payload), "done");
  assert.deepEqual(executed, ["status", "again"]);
  await channel.close();
  await link.close();
  await toHub.close();
});

Deno.test("a peer cannot reach a worker the application did not expose", async () => {
  const log = flowRefusals();
  await using server = new Node({ logger: log });
  await using client = new Node();
  await using tcp = listenTcp(server);
  startEcho(server, { consumes: [tcp.flow] });
  let ran = 0;
  server.startWorker("internal", () => void ran++);
  const link = await connectTcp(client, `127.0.0.1:${tcp.port}`);
  for (let i = 0; i < 10; i++) await client.send(link.route.append("internal"), text("x"));
  // The exposed service still answers, during and after.
  const reply = await client.request(link.route.append("echo"), text("ok"), { timeout: 2000 });
  assert.equal(untext(reply.payload), "ok");
  await until(() => log.refused.length === 10);
  assert.equal(ran, 0);
  // Local code still reaches it.
  await server.send("internal", text("local"));
  await until(() => ran === 1);
  await link.close();
});

Deno.test("a peer cannot make the node dial out for it (no open proxy) unless the listener allows it", async () => {
  // A victim service the attacker wants to reach through the node.
  const victim = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let victimConnections = 0;
  const accepting = (async () => {
    for await (const conn of victim) {
      victimConnections++;
      conn.close();
    }
  })();
  const target = `1#127.0.0.1:${victim.addr.port}`;
  try {
    const log = flowRefusals();
    {
      await using node = new Node({ logger: log });
      await using attacker = new Node();
      await using tcp = listenTcp(node);
      startEcho(node, { consumes: [tcp.flow] });
      const link = await connectTcp(attacker, `127.0.0.1:${tcp.port}`);
      for (let i = 0; i < 5; i++) {
        await attacker.send(link.route.append(target, "anything"), text("GET / HTTP/1.0\r\n\r\n"));
      }
      await until(() => log.refused.length === 5);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(victimConnections, 0, "the node dialled nobody");
      const reply = await attacker.request(link.route.append("echo"), text("still"), {
        timeout: 2000,
      });
      assert.equal(untext(reply.payload), "still");
      await link.close();
    }
    {
      // The positive control: a node that is meant to route onwards, told so.
      await using node = new Node();
      await using attacker = new Node();
      await using tcp = listenTcp(node, { allowRemoteDial: true });
      const link = await connectTcp(attacker, `127.0.0.1:${tcp.port}`);
      await attacker.send(link.route.append(target, "anything"), text("x"));
      await until(() => victimConnections === 1);
      await link.close();
    }
  } finally {
    victim.close();
    await accepting.catch(() => {});
  }
});
