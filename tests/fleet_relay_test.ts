// Issue 19: relays sharing names, links and queues through a 3-node NATS JetStream cluster
// (Debian's nats-server, installed when missing, started and stopped by PID).
import assert from "node:assert/strict";
import { type RelayNode, startRelayNode } from "../cli/_relay.ts";
import { startDevice } from "../cli/_device.ts";
import { connectToDevice } from "../cli/_client.ts";
import { FleetClient } from "../fleet/deno.ts";
import { SealrouteError } from "../errors.ts";
import { ensureNatsServer, type NatsCluster, startNatsCluster } from "./nats/cluster.ts";
import { gate, identities, LINK, until } from "./_relay_stack.ts";

const available = await ensureNatsServer();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A cluster and `count` relays named a, b, c…, relay i on NATS node i. */
async function fleet(count = 3) {
  const cluster: NatsCluster = await startNatsCluster();
  const conns: FleetClient[] = [];
  const relays: RelayNode[] = [];
  const ids = await identities(count);
  try {
    for (let i = 0; i < count; i++) {
      const nats = await FleetClient.connect([cluster.urls[i]!, ...cluster.urls], {
        noRandomize: true,
      });
      conns.push(nats);
      relays.push(
        await startRelayNode({
          identity: ids[i]!,
          liveness: LINK,
          fleet: { client: nats, name: "abc"[i]!, replicas: 3, queue: { maxPerName: 50 } },
        }),
      );
    }
    // Every relay links to every other.
    await until(() => relays.every((r) => r.fleet!.links().length === count - 1), "links", 20_000);
  } catch (error) {
    await close();
    throw error;
  }
  /** Stops relay a and starts it again with the same identity and fleet name. */
  async function restartFirst() {
    await relays[0]!.close();
    // What the relay wrote to JetStream is there once its connection flushed.
    await conns[0]!.nats.flush();
    relays[0] = await startRelayNode({
      identity: ids[0]!,
      liveness: LINK,
      fleet: { client: conns[0]!, name: "a", replicas: 3, queue: { maxPerName: 50 } },
    });
  }
  async function close() {
    for (const relay of relays) await relay.close().catch(() => {});
    for (const nats of conns) await nats.close().catch(() => {});
    await cluster.stop();
  }
  return { cluster, relays, restartFirst, close };
}

function tcpOf(relay: RelayNode) {
  return { transport: "tcp" as const, hostPort: relay.tcp };
}

Deno.test({
  name: "fleet: a device on relay a answers clients on relays b and c, both ways, end to end",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fleet();
    const [deviceId, clientB, clientC, other] = await identities(4);
    try {
      const [a, b, c] = f.relays as [RelayNode, RelayNode, RelayNode];
      const device = await startDevice({
        identity: deviceId!,
        relay: tcpOf(a),
        name: "sensor",
        timeout: 5000,
        link: LINK,
      });
      const seen: string[] = [];
      device.node.startWorker("upper", async (ctx) => {
        const text = decoder.decode(ctx.message.payload);
        seen.push(text);
        await ctx.reply(encoder.encode(text.toUpperCase()));
      }, { consumes: [device.listener.flow] });
      // b and c learn that a holds the name.
      await until(
        () => [b, c].every((r) => r.fleet!.registry.lookup("forward_to_sensor")?.node === "a"),
        "the name's record at b and c",
      );
      const clients = [];
      for (const [relay, id] of [[b, clientB], [c, clientC]] as const) {
        clients.push(
          await connectToDevice({ identity: id!, relay: tcpOf(relay), to: "sensor", link: LINK }),
        );
      }
      for (let i = 0; i < 20; i++) {
        for (const [k, client] of clients.entries()) {
          const reply = await client.session.request("upper", encoder.encode(`m${k}-${i}`));
          assert.equal(decoder.decode(reply.payload), `M${k}-${i}`);
        }
      }
      assert.equal(seen.length, 40);
      // Nothing went through a relay's own registrations at b or c: the name is held at a.
      assert.deepEqual(b.relays.relays(), []);
      assert.deepEqual(c.relays.relays(), []);
      // Another identity's claim on the name is refused at any relay of the fleet.
      for (const relay of [b, c, a]) {
        const error = await startDevice({
          identity: other!,
          relay: tcpOf(relay),
          name: "sensor",
          timeout: 3000,
          link: LINK,
        }).then(() => undefined, (e) => e);
        assert(error instanceof SealrouteError, String(error));
        assert.equal(error.code, "relay-refused");
        assert.match(error.message, /another identity/);
      }
      for (const client of clients) await client.close();
      await device.close();
    } finally {
      await f.close();
    }
  },
});

Deno.test({
  name:
    "fleet: a device offline has its queue in JetStream; its relay restarts; it drains at another relay",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const f = await fleet();
    const [deviceId, clientId] = await identities(2);
    const gates: ReturnType<typeof gate>[] = [];
    try {
      const [a, b, c] = f.relays as [RelayNode, RelayNode, RelayNode];
      const port = (r: RelayNode) => Number(r.tcp.split(":")[1]);
      // The device reaches relays a and c through gates that can cut it off from both.
      const toA = gate(() => port(f.relays[0]!));
      const toC = gate(() => port(c));
      gates.push(toA, toC);
      const device = await startDevice({
        identity: deviceId!,
        relay: {
          transport: "tcp",
          hostPort: `127.0.0.1:${toA.port()}`,
          more: [`127.0.0.1:${toC.port()}`],
        },
        name: "sensor",
        timeout: 5000,
        link: LINK,
      });
      const inbox: string[] = [];
      device.node.startWorker(
        "inbox",
        (ctx) => void inbox.push(decoder.decode(ctx.message.payload)),
        {
          consumes: [device.listener.flow],
        },
      );
      await until(() => b.fleet!.registry.lookup("forward_to_sensor")?.node === "a", "b's record");
      const client = await connectToDevice({
        identity: clientId!,
        relay: tcpOf(b),
        to: "sensor",
        link: LINK,
      });
      await until(() => device.listener.channels.size === 1, "the device's end of the channel");
      const send = (text: string) => client.session.channel.send("inbox", encoder.encode(text));
      await send("online");
      await until(() => inbox.length === 1, "the first message");
      // Offline: both gates down; relay a holds the name and queues what b carries to it.
      toA.down();
      toC.down();
      await until(() => !device.link.connected, "the device noticing");
      await until(
        () => a.relays.registrations().some((r) => r.name === "sensor" && !r.online),
        "relay a holding the name",
      );
      for (let i = 0; i < 30; i++) await send(`queued-${i}`);
      await until(() => (a.relays.registrations()[0]?.queued ?? 0) === 30, "30 frames at a");
      // Relay a restarts (same fleet name, nothing kept in memory): the frames come back from
      // JetStream.
      await f.restartFirst();
      const a2 = f.relays[0]!;
      await until(
        () => a2.relays.registrations().some((r) => r.name === "sensor" && r.queued === 30),
        "the restarted relay a holding the 30 frames again",
      );
      // The device comes back at relay c: c loads the name's queue and forwards it in order.
      toC.up();
      await until(() => inbox.length === 31, `31 messages (have ${inbox.length})`, 30_000);
      assert.deepEqual(inbox, ["online", ...Array.from({ length: 30 }, (_, i) => `queued-${i}`)]);
      await until(() => c.relays.relays().includes("forward_to_sensor"), "c holding the name");
      // Relay a let go of the name (and of its view of the frames) once c took it.
      await until(() => !a2.relays.relays().includes("forward_to_sensor"), "a letting go");
      await send("after");
      await until(() => inbox.length === 32, "a message after the move");
      await client.close();
      await device.close();
    } finally {
      for (const g of gates) g.down();
      await f.close();
    }
  },
});
