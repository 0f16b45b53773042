// A NATS link between two Sealroute nodes, each on a different node of a 3-node NATS
// JetStream cluster started here: routing, flow control, a secure channel end to end, what
// NATS sees, and a NATS node killed with -9 under one side.
import assert from "node:assert/strict";
import { RouteError } from "../errors.ts";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import { connectNatsLink } from "../fleet/mod.ts";
import { connectNats, type FleetNatsConnection } from "../fleet/deno.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node, startEcho } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";
import { ensureNatsServer, startNatsCluster } from "./nats/cluster.ts";

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

const natsReady = await ensureNatsServer();
if (!natsReady) console.warn("fleet_nats_test skipped: nats-server could not be installed");

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Resolves once `nc` reports a reconnect (a hang guard bounds it). */
async function reconnected(nc: FleetNatsConnection): Promise<void> {
  for await (const status of nc.status()) if (status.type === "reconnect") return;
}

function guard<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hang guard: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "fleet: a NATS link across a 3-node cluster carries routing and a secure channel",
  ignore: !natsReady,
  fn: async (t) => {
    const cluster = await startNatsCluster({ nodes: 3 });
    const clients: FleetNatsConnection[] = [];
    const nodeA = new Node();
    const nodeB = new Node();
    try {
      const [u0, u1, u2] = cluster.urls as [string, string, string];
      const ncA = await connectNats([u0, u1, u2], { noRandomize: true });
      const ncB = await connectNats([u1, u2, u0], { noRandomize: true });
      const spy = await connectNats([u2], { noRandomize: true });
      clients.push(ncA, ncB, spy);
      assert.equal(`nats://${ncA.getServer()}`, u0);
      assert.equal(`nats://${ncB.getServer()}`, u1);

      // Everything either link publishes, as NATS carries it.
      const seen: Uint8Array[] = [];
      spy.subscribe("sealroute.link.>", { callback: (_e, m) => void seen.push(m.data) });
      await spy.flush();

      const linkA = connectNatsLink(nodeA, ncA, { from: "relay-a", to: "relay-b" });
      const linkB = connectNatsLink(nodeB, ncB, { from: "relay-b", to: "relay-a" });
      startEcho(nodeB, { consumes: [linkB.flow] });
      startEcho(nodeB, "private"); // consumes no flow: unreachable over the link

      await t.step("a routed message reaches an echo worker on B and comes back", async () => {
        const reply = await nodeA.request(linkA.route.append("echo"), text("over nats"), {
          timeout: 10_000,
        });
        assert.equal(untext(reply.payload), "over nats");
      });

      await t.step(
        "flow control: a worker not consuming the link's flow is unreachable",
        async () => {
          await assert.rejects(
            nodeA.request(linkA.route.append("private"), text("no"), { timeout: 500 }),
            // Dropped by B's flow control (no notice), so only the timeout answers.
            (e: unknown) => e instanceof RouteError && e.code === "timeout",
          );
        },
      );

      const listener = await createSecureChannelListener(nodeB, "api", {
        identity: await createIdentity(new Vault()),
        consumes: [linkB.flow],
      });
      startEcho(nodeB, { address: "secure_echo", consumes: [listener.flow] });
      const channel = await createSecureChannel(nodeA, linkA.route.append("api"), {
        identity: await createIdentity(new Vault()),
      });

      await t.step(
        "a secure channel end to end: 100 messages; NATS sees no plaintext",
        async () => {
          for (let i = 0; i < 100; i++) {
            const reply = await channel.request("secure_echo", text(`secret-${i}-plaintext`), {
              timeout: 10_000,
            });
            assert.equal(untext(reply.payload), `secret-${i}-plaintext`);
          }
          await spy.flush();
          assert(seen.length >= 200, `NATS carried ${seen.length} link messages`);
          assert(seen.some((m) => contains(m, text("over nats"))), "the spy sees link traffic");
          assert(!seen.some((m) => contains(m, text("-plaintext"))), "no plaintext on NATS");
        },
      );

      // What reaches B through the channel, in arrival order.
      const arrived: string[] = [];
      let onArrive = () => {};
      nodeB.startWorker("recorder", (ctx) => {
        arrived.push(untext(ctx.message.payload));
        onArrive();
      }, { consumes: [listener.flow] });
      const allArrived = (n: number) =>
        new Promise<void>((resolve) => {
          onArrive = () => arrived.length >= n && resolve();
          onArrive();
        });

      await t.step(
        "kill -9 A's, then B's NATS node mid-stream: exactly once, in order",
        async () => {
          const total = 300;
          const expected = Array.from({ length: total }, (_, i) => `m-${i}`);
          const stream = (async () => {
            for (let i = 0; i < total; i++) {
              await channel.send("recorder", text(expected[i]!));
              if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10));
            }
          })();
          await guard(allArrived(50), 15_000, "first messages");
          const backA = reconnected(ncA);
          await cluster.kill(0);
          await guard(backA, 15_000, "client A reconnects");
          assert.notEqual(`nats://${ncA.getServer()}`, u0);
          await guard(allArrived(150), 15_000, "messages after the first kill");
          const backB = reconnected(ncB);
          await cluster.kill(1);
          await guard(backB, 15_000, "client B reconnects");
          assert.equal(`nats://${ncB.getServer()}`, u2);
          await stream;
          await guard(allArrived(total), 15_000, "every message");
          assert.deepEqual(arrived, expected);
          const reply = await channel.request("secure_echo", text("still"), { timeout: 10_000 });
          assert.equal(untext(reply.payload), "still");
          assert.equal(`nats://${ncA.getServer()}`, u2, "both sides on the last NATS node");
        },
      );

      await channel.close();
      await linkA.close();
      await linkB.close();
    } finally {
      await nodeA.close();
      await nodeB.close();
      await Promise.all(clients.map((nc) => nc.close().catch(() => {})));
      await cluster.stop();
    }
  },
});
