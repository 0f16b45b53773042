// Store-and-forward at the relay (issue 14), over real sockets: the device's link goes down
// (a TCP gate in front of the relay closes and refuses), the client keeps sending through its
// end-to-end channel, the relay keeps the frames for the device's identity (ciphertext: it
// cannot read them) and forwards them in order once the device registers again; what a
// bound refuses is told to the sender; another identity cannot take the name meanwhile; a
// relay restarted on a SQLite queue still has them.
import assert from "node:assert/strict";
import { startRelayNode } from "../cli/_relay.ts";
import { type Device, startDevice } from "../cli/_device.ts";
import { connectToDevice } from "../cli/_client.ts";
import { createIdentity, type LocalIdentity } from "../identity/mod.ts";
import { RelayQueue, type RelayService, type UndeliverableEvent } from "../routing/mod.ts";
import { SqliteRelayQueueStore } from "../routing/deno.ts";
import { Vault } from "../vault/mod.ts";

const LINK = { heartbeatInterval: 200, deadAfter: 1000, maxDelay: 100 };

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP gate in front of `target`: `down()` cuts every connection and refuses new ones. */
function gate(target: () => number) {
  let listener: Deno.TcpListener | undefined;
  const open = new Set<Deno.Conn>();
  let port = 0;
  const up = () => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    void (async () => {
      for await (const inbound of listener!) {
        const outbound = await Deno.connect({ hostname: "127.0.0.1", port: target() }).catch(
          () => undefined,
        );
        if (!outbound) {
          inbound.close();
          continue;
        }
        open.add(inbound).add(outbound);
        const pipe = (a: Deno.Conn, b: Deno.Conn) =>
          a.readable.pipeTo(b.writable).catch(() => {}).finally(() => {
            for (const c of [a, b]) {
              try {
                c.close();
              } catch { /* closed */ }
              open.delete(c);
            }
          });
        void pipe(inbound, outbound);
        void pipe(outbound, inbound);
      }
    })().catch(() => {});
  };
  const down = () => {
    listener?.close();
    listener = undefined;
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    open.clear();
  };
  up();
  return { port: () => port, up, down };
}

async function identities(n: number): Promise<LocalIdentity[]> {
  return await Promise.all(Array.from({ length: n }, () => createIdentity(new Vault())));
}

/** A device behind `g` whose `inbox` records every message, in order. */
async function deviceBehind(g: { port: () => number }, identity: LocalIdentity) {
  const received: string[] = [];
  const device: Device = await startDevice({
    identity,
    relay: { transport: "tcp", hostPort: `127.0.0.1:${g.port()}` },
    name: "sensor",
    timeout: 5000,
    link: LINK,
  });
  device.node.startWorker("inbox", (ctx) => {
    received.push(new TextDecoder().decode(ctx.message.payload));
  }, { consumes: [device.listener.flow] });
  return { device, received };
}

/**
 * A relay on `queue`, a device behind a gate to it, and a client whose end-to-end channel
 * is open at both ends; `offline()` cuts the device off and waits until the relay holds its
 * name; `close()` stops everything (the queue too).
 */
async function stack(queue: RelayQueue, relayOptions: { port?: number; wsPort?: number } = {}) {
  const [relayId, deviceId, clientId] = await identities(3);
  const s = {
    queue,
    relayId: relayId!,
    relay: await startRelayNode({ identity: relayId!, queue, liveness: LINK, ...relayOptions }),
  };
  const ports = { tcp: Number(s.relay.tcp.split(":")[1]), ws: Number(s.relay.ws.split(":")[1]) };
  const g = gate(() => ports.tcp);
  const { device, received } = await deviceBehind(g, deviceId!);
  const client = await connectToDevice({
    identity: clientId!,
    relay: { transport: "ws", hostPort: s.relay.ws },
    to: "sensor",
    link: LINK,
  });
  await until(() => device.listener.channels.size === 1, "the device's end of the channel");
  const send = (text: string) =>
    client.session.channel.send("inbox", new TextEncoder().encode(text));
  const offline = async () => {
    g.down(); // the device's link is cut and cannot be dialled again
    await until(() => !device.link.connected, "the device noticing");
    await until(() => relayOffline(s.relay), "the relay holding the name");
  };
  const close = async () => {
    await client.close();
    await device.close();
    g.down();
    await s.relay.close();
    s.queue.close();
  };
  return Object.assign(s, { ports, gate: g, device, received, client, send, offline, close });
}

Deno.test("store-and-forward: frames for an offline device wait at the relay and arrive in order", async () => {
  const s = await stack(new RelayQueue({ maxPerName: 100 }));
  try {
    await s.send("online");
    await until(() => s.received.length === 1, "the first message");
    await s.offline();
    for (let i = 0; i < 50; i++) await s.send(`queued ${i}`);
    await until(() => s.queue.size("forward_to_sensor") === 50, "50 frames queued");
    assert.equal(s.received.length, 1, "nothing reached the offline device");

    // Another identity cannot take the name (and so the frames) while it is held.
    const [other] = await identities(1);
    const intruder = await startDevice({
      identity: other!,
      relay: { transport: "tcp", hostPort: s.relay.tcp },
      name: "sensor",
      timeout: 5000,
    }).then((d) => d.close().then(() => "registered"), (e) => e.code);
    assert.equal(intruder, "relay-refused");
    assert.equal(s.queue.size("forward_to_sensor"), 50);

    s.gate.up(); // back: the device registers again and the relay forwards what waited
    await until(() => s.received.length === 51, "every queued frame delivered");
    assert.deepEqual(s.received.slice(1), Array.from({ length: 50 }, (_, i) => `queued ${i}`));
    assert.equal(s.queue.count, 0);
    assert.equal(s.device.listener.channels.size, 1, "the same channel, no new handshake");
    await s.send("after");
    await until(() => s.received.at(-1) === "after", "live again");
  } finally {
    await s.close();
  }
});

Deno.test("store-and-forward: a full queue is refused and the sender is told (queue-full)", async () => {
  const s = await stack(new RelayQueue({ maxPerName: 10 }));
  const notices: UndeliverableEvent[] = [];
  try {
    s.client.node.onUndeliverable(s.client.link.address, (e) => notices.push(e));
    await s.offline();
    for (let i = 0; i < 15; i++) await s.send(`m${i}`);
    await until(() => notices.length === 5, "five refusals told to the client");
    for (const n of notices) {
      assert.equal(n.code, "queue-full");
      assert.equal(n.address.toString(), "forward_to_sensor");
    }
    assert.equal(s.queue.size("forward_to_sensor"), 10);
    s.gate.up();
    await until(() => s.received.length === 10, "the ten that were kept");
    assert.deepEqual(s.received, Array.from({ length: 10 }, (_, i) => `m${i}`));
  } finally {
    await s.close();
  }
});

Deno.test("store-and-forward in SQLite: a relay restarted on the same ports and file still holds the frames", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/queue.db`;
  const s = await stack(new RelayQueue({ store: new SqliteRelayQueueStore(file) }));
  try {
    await s.offline();
    for (let i = 0; i < 20; i++) await s.send(`kept ${i}`);
    await until(() => s.queue.size("forward_to_sensor") === 20, "20 frames queued");
    // What the relay keeps on disk is ciphertext: no plaintext byte string of the messages.
    for (const name of ["queue.db", "queue.db-wal"]) {
      const bytes = await Deno.readFile(`${dir}/${name}`).catch(() => new Uint8Array());
      assert(!new TextDecoder("latin1").decode(bytes).includes("kept "), `${name} holds plaintext`);
    }
    // The relay goes away and comes back on the same ports with the same queue file.
    await s.relay.close();
    s.queue.close();
    s.queue = new RelayQueue({ store: new SqliteRelayQueueStore(file) });
    s.relay = await startRelayNode({
      identity: s.relayId,
      queue: s.queue,
      liveness: LINK,
      port: s.ports.tcp,
      wsPort: s.ports.ws,
    });
    assert.deepEqual(s.relay.relays.relays(), ["forward_to_sensor"], "held again at start");
    s.gate.up();
    await until(() => s.received.length === 20, "every kept frame delivered");
    assert.deepEqual(s.received, Array.from({ length: 20 }, (_, i) => `kept ${i}`));
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether the relay holds `sensor` for its device while the device's link is down. */
function relayOffline(relay: { relays: RelayService }): boolean {
  return relay.relays.registrations().some((r) => r.name === "sensor" && !r.online);
}
