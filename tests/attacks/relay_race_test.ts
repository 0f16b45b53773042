// Relay name races over real TCP connections: many peers claiming one name at once, and a
// holder's connection dropping while others claim it (issue 12: "a relay name can be
// hijacked"). The in-process races with identities are in routing/relay_service_test.ts.
import assert from "node:assert/strict";
import {
  decodeBareString,
  encodeBareString,
  Node,
  RELAY_SERVICE_ADDRESS,
  type RelayService,
  startRelayService,
  STATIC_RELAY_SERVICE_ADDRESS,
} from "../../routing/mod.ts";
import type { Connection } from "../../transport/mod.ts";
import { connectTcp, listenTcp, type TcpListener } from "../../transport/deno.ts";

const CLAIMANTS = 24;
const ROUNDS = 6;

interface Server {
  node: Node;
  service: RelayService;
  tcp: TcpListener;
}

function relayServer(): Server {
  const node = new Node();
  const service = startRelayService(node);
  const tcp = listenTcp(node, { hostname: "127.0.0.1", port: 0 });
  // The relay service hears from the listener's connections (what its `consumes` will do).
  for (const address of [RELAY_SERVICE_ADDRESS, STATIC_RELAY_SERVICE_ADDRESS]) {
    node.flowControls.addConsumer(address, tcp.flow);
  }
  return { node, service, tcp };
}

/** Sends a registration over `link`; resolves with the service's BARE String reply. */
async function claim(client: Node, link: Connection, name: string, i: number): Promise<string> {
  const service = i % 2 === 0 ? RELAY_SERVICE_ADDRESS : STATIC_RELAY_SERVICE_ADDRESS;
  const reply = await client.request(link.route.append(service), encodeBareString(name), {
    timeout: 5000,
  });
  return decodeBareString(reply.payload);
}

/** A worker on `client` that records which connection each probe arrived over. */
function startProbe(client: Node, links: Connection[], seen: string[]): void {
  client.startWorker("probe", (ctx) => {
    seen.push(ctx.message.returnRoute.next!.toString());
  }, { consumes: links.map((l) => l.flow) });
}

/** Sends a probe through the relay from the server side; resolves with the links it reached. */
async function probe(server: Server, key: string, seen: string[]): Promise<string[]> {
  seen.length = 0;
  await server.node.send([key, "probe"], new Uint8Array([1])).catch(() => {});
  for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  return [...seen];
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert(check(), `timed out waiting for ${what}`);
}

Deno.test("relay race over TCP: of 24 connections claiming a free name exactly one holds it", async () => {
  const server = relayServer();
  const client = new Node();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `free-${round}`;
      const key = `forward_to_${name}`;
      const links = await Promise.all(
        Array.from({ length: CLAIMANTS }, () => connectTcp(client, `127.0.0.1:${server.tcp.port}`)),
      );
      const seen: string[] = [];
      startProbe(client, links, seen);
      const replies = await Promise.all(links.map((link, i) => claim(client, link, name, i)));
      const winners = links.filter((_, i) => replies[i] === key);
      assert.equal(winners.length, 1, `round ${round}: ${replies.join(", ")}`);
      for (const reply of replies) {
        if (reply !== key) assert.match(reply, /^error:relay-refused: /);
      }
      assert.deepEqual(server.service.relays().filter((r) => r === key), [key]);
      assert.deepEqual(await probe(server, key, seen), [winners[0]!.address.toString()]);
      await Promise.all(links.map((l) => l.close()));
      await client.stopWorker("probe");
      await until(() => !server.service.relays().includes(key), "the relay to go with its link");
      assert(!server.node.hasWorker(key));
    }
  } finally {
    await client.close();
    await server.node.close();
  }
});

Deno.test("relay race over TCP: a holder's connection dropping while 24 others claim leaves at most one holder, never a stale relay", async () => {
  const server = relayServer();
  const client = new Node();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `drop-${round}`;
      const key = `forward_to_${name}`;
      const holder = await connectTcp(client, `127.0.0.1:${server.tcp.port}`);
      assert.equal(await claim(client, holder, name, 0), key);
      const links = await Promise.all(
        Array.from({ length: CLAIMANTS }, () => connectTcp(client, `127.0.0.1:${server.tcp.port}`)),
      );
      const seen: string[] = [];
      startProbe(client, links, seen);
      const [, ...replies] = await Promise.all([
        holder.close(),
        ...links.map((link, i) => claim(client, link, name, i)),
      ]);
      await until(() => server.tcp.connections.size === CLAIMANTS, "the holder's link to close");
      await new Promise((r) => setTimeout(r, 20));
      const winners = links.filter((_, i) => replies[i] === key);
      assert(winners.length <= 1, `round ${round}: ${replies.join(", ")}`);
      for (const reply of replies) {
        if (reply !== key) assert.match(reply, /^error:relay-refused: /);
      }
      if (winners.length === 1) {
        // The old holder's going away did not take the new holder's relay with it.
        assert.deepEqual(server.service.relays().filter((r) => r === key), [key]);
        assert.deepEqual(await probe(server, key, seen), [winners[0]!.address.toString()]);
      } else {
        assert(!server.service.relays().includes(key) && !server.node.hasWorker(key));
      }
      await Promise.all(links.map((l) => l.close()));
      await client.stopWorker("probe");
      await until(() => server.service.relays().length === 0, "every relay to go");
    }
  } finally {
    await client.close();
    await server.node.close();
  }
});
