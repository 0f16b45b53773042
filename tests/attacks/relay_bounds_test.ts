// A peer of a relay node trying to exhaust its relay service over real sockets: unbounded
// names from one connection, from many connections, huge names, long return routes
// (issue 12: "relay names per connection and name length"). A legitimate device is served
// during and after each attack.
import assert from "node:assert/strict";
import {
  Address,
  decodeBareString,
  encodeBareString,
  Node,
  RELAY_SERVICE_ADDRESS,
  type RelayService,
  type RelayServiceOptions,
  startRelayService,
} from "../../routing/mod.ts";
import { type Connection, connectWebSocket } from "../../transport/mod.ts";
import { connectTcp, listenTcp, type TcpListener, webSocketHandler } from "../../transport/deno.ts";

interface Server {
  node: Node;
  service: RelayService;
  tcp: TcpListener;
  http: Deno.HttpServer<Deno.NetAddr>;
  close(): Promise<void>;
}

function relayServer(options: RelayServiceOptions = {}): Server {
  const node = new Node();
  const service = startRelayService(node, options);
  const tcp = listenTcp(node, { hostname: "127.0.0.1", port: 0 });
  const ws = webSocketHandler(node);
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, ws);
  // The relay service hears from the listeners' connections (what its `consumes` will do).
  node.flowControls.addConsumer(RELAY_SERVICE_ADDRESS, tcp.flow);
  node.flowControls.addConsumer(RELAY_SERVICE_ADDRESS, ws.flow);
  return {
    node,
    service,
    tcp,
    http,
    async close() {
      await node.close();
      await http.shutdown();
    },
  };
}

/** Sends a registration over `link`; resolves with the service's BARE String reply. */
async function register(client: Node, link: Connection, name: string): Promise<string> {
  const reply = await client.request(
    link.route.append(RELAY_SERVICE_ADDRESS),
    encodeBareString(name),
    { timeout: 5000 },
  );
  return decodeBareString(reply.payload);
}

/** A legitimate device registers `name` and the relay delivers to it. */
async function deviceIsServed(server: Server, name: string): Promise<void> {
  await using device = new Node();
  const link = await connectTcp(device, `127.0.0.1:${server.tcp.port}`);
  assert.equal(await register(device, link, name), `forward_to_${name}`);
  const got = Promise.withResolvers<Uint8Array>();
  device.startWorker("inbox", (ctx) => got.resolve(ctx.message.payload), {
    consumes: [link.flow],
  });
  await server.node.send([`forward_to_${name}`, "inbox"], new Uint8Array([42]));
  const timer = setTimeout(() => got.reject(new Error("the relay did not deliver")), 2000);
  try {
    assert.deepEqual(await got.promise, new Uint8Array([42]));
  } finally {
    clearTimeout(timer);
  }
  await link.close();
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert(check(), `timed out waiting for ${what}`);
}

Deno.test("relay bounds over TCP: one connection registering 500 names holds 32, the rest are refused relay-limit", async () => {
  const server = relayServer();
  const attacker = new Node();
  try {
    const link = await connectTcp(attacker, `127.0.0.1:${server.tcp.port}`);
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => register(attacker, link, i % 2 ? `n${i}` : "register")),
    );
    const held = replies.filter((r) => !r.startsWith("error:"));
    assert.equal(held.length, 32);
    assert(replies.every((r) => !r.startsWith("error:") || r.startsWith("error:relay-limit: ")));
    assert.equal(server.service.relays().length, 32);
    await deviceIsServed(server, "sensor");
    // The attacker's relays go with its connection, and its share with them.
    await link.close();
    await until(() => server.service.relays().length === 0, "the attacker's relays to go");
    await deviceIsServed(server, "sensor");
  } finally {
    await attacker.close();
    await server.close();
  }
});

Deno.test("relay bounds over TCP: many connections together hold at most maxRelays names", async () => {
  const server = relayServer({ maxRelays: 40 });
  const attacker = new Node();
  try {
    const links = await Promise.all(
      Array.from({ length: 4 }, () => connectTcp(attacker, `127.0.0.1:${server.tcp.port}`)),
    );
    const replies = await Promise.all(
      links.flatMap((link) =>
        Array.from({ length: 32 }, () => register(attacker, link, "register"))
      ),
    );
    assert.equal(replies.filter((r) => !r.startsWith("error:")).length, 40);
    assert.equal(replies.filter((r) => r.startsWith("error:relay-limit: ")).length, 128 - 40);
    assert.equal(server.service.relays().length, 40);
    // Full: a device is refused until the attacker's relays go.
    const device = new Node();
    const deviceLink = await connectTcp(device, `127.0.0.1:${server.tcp.port}`);
    assert.match(await register(device, deviceLink, "sensor"), /^error:relay-limit: /);
    await device.close();
    await links[0]!.close();
    await until(() => server.service.relays().length < 40, "the first link's relays to go");
    await deviceIsServed(server, "sensor");
  } finally {
    await attacker.close();
    await server.close();
  }
});

Deno.test("relay bounds over WebSocket: a 64 KiB name is refused relay-limit with a short reply, the link still serves", async () => {
  const server = relayServer();
  const attacker = new Node();
  try {
    const link = await connectWebSocket(attacker, `ws://127.0.0.1:${server.http.addr.port}`);
    const reply = await register(attacker, link, "x".repeat(64 * 1024));
    assert.match(reply, /^error:relay-limit: /);
    assert(reply.length < 200, `a reply of ${reply.length} chars`);
    assert.equal(server.service.relays().length, 0);
    // 128 bytes is still a name; the same connection registers it.
    const name = "y".repeat(128);
    assert.equal(await register(attacker, link, name), `forward_to_${name}`);
    await deviceIsServed(server, "sensor");
    await link.close();
  } finally {
    await attacker.close();
    await server.close();
  }
});

Deno.test("relay bounds over TCP: a return route longer than the forward-route bound is refused", async () => {
  const server = relayServer();
  const attacker = new Node();
  try {
    const link = await connectTcp(attacker, `127.0.0.1:${server.tcp.port}`);
    const inbox: string[] = [];
    attacker.startWorker("inbox", (ctx) => {
      inbox.push(decodeBareString(ctx.message.payload));
    }, { consumes: [link.flow] });
    // Seen by the service as [connection, inbox, pad x n]: forward route 1 + n addresses.
    for (
      const [pads, expected] of [[15, /^forward_to_short$/], [40, /^error:relay-limit: /]] as const
    ) {
      inbox.length = 0;
      await attacker.send(
        link.route.append(RELAY_SERVICE_ADDRESS),
        encodeBareString(pads === 15 ? "short" : "long"),
        {
          returnRoute: [
            Address.local("inbox"),
            ...Array.from({ length: pads }, () => Address.local("pad")),
          ],
        },
      );
      await until(() => inbox.length > 0, "the service's reply");
      assert.match(inbox[0]!, expected);
    }
    assert.deepEqual(server.service.relays(), ["forward_to_short"]);
    await deviceIsServed(server, "sensor");
    await link.close();
  } finally {
    await attacker.close();
    await server.close();
  }
});
