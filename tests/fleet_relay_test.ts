// Issue 19: relays sharing names, links and queues through a 3-node NATS JetStream cluster
// (Debian's nats-server, installed when missing, started and stopped by PID).
import assert from "node:assert/strict";
import { type RelayNode, startRelayNode } from "../cli/_relay.ts";
import { startDevice } from "../cli/_device.ts";
import { connectToDevice } from "../cli/_client.ts";
import { connectNats } from "../fleet/deno.ts";
import { SealrouteError } from "../errors.ts";
import { ensureNatsServer, type NatsCluster, startNatsCluster } from "./nats/cluster.ts";
import { identities, LINK, until } from "./_relay_stack.ts";

const available = await ensureNatsServer();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Nats = Awaited<ReturnType<typeof connectNats>>;

/** A cluster and `count` relays named a, b, c…, relay i on NATS node i. */
async function fleet(count = 3) {
  const cluster: NatsCluster = await startNatsCluster();
  const conns: Nats[] = [];
  const relays: RelayNode[] = [];
  const ids = await identities(count);
  try {
    for (let i = 0; i < count; i++) {
      const nats = await connectNats([cluster.urls[i]!, ...cluster.urls], { noRandomize: true });
      conns.push(nats);
      relays.push(
        await startRelayNode({
          identity: ids[i]!,
          liveness: LINK,
          fleet: { nats, name: "abc"[i]!, replicas: 3, queue: { maxPerName: 50 } },
        }),
      );
    }
    // Every relay links to every other.
    await until(() => relays.every((r) => r.fleet!.links().length === count - 1), "links", 20_000);
  } catch (error) {
    await close();
    throw error;
  }
  async function close() {
    for (const relay of relays) await relay.close().catch(() => {});
    for (const nats of conns) await nats.close().catch(() => {});
    await cluster.stop();
  }
  return { cluster, relays, close };
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
