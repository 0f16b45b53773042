// Shared by the store-and-forward tests and bench/relay_queue_bench.ts: a relay on a queue,
// a device behind a TCP gate that can cut it off, and a client with an open channel to it.
import { startRelayNode } from "../cli/_relay.ts";
import { type Device, startDevice } from "../cli/_device.ts";
import { connectToDevice } from "../cli/_client.ts";
import { createIdentity, type LocalIdentity } from "../identity/mod.ts";
import type { RelayQueue, RelayService } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";

export const LINK = { heartbeatInterval: 200, deadAfter: 1000, maxDelay: 100 };

export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A TCP gate in front of `target`: `down()` cuts every connection and refuses new ones. */
export function gate(target: () => number) {
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

export async function identities(n: number): Promise<LocalIdentity[]> {
  return await Promise.all(Array.from({ length: n }, () => createIdentity(new Vault())));
}

/**
 * A device behind `g` whose `inbox` records every message, in order, and `delivered` what
 * clients' reliable streams handed it (their first line: the sequence number).
 */
async function deviceBehind(g: { port: () => number }, identity: LocalIdentity) {
  const received: string[] = [];
  const delivered: number[] = [];
  const device: Device = await startDevice({
    onDelivered: (m) => {
      const text = new TextDecoder().decode(m.payload);
      delivered.push(Number(text.slice(0, text.indexOf("\n"))));
    },
    identity,
    relay: { transport: "tcp", hostPort: `127.0.0.1:${g.port()}` },
    name: "sensor",
    timeout: 5000,
    link: LINK,
  });
  device.node.startWorker("inbox", (ctx) => {
    received.push(new TextDecoder().decode(ctx.message.payload));
  }, { consumes: [device.listener.flow] });
  return { device, received, delivered };
}

/**
 * A relay on `queue`, a device behind a gate to it, and a client whose end-to-end channel
 * is open at both ends; `offline()` cuts the device off and waits until the relay holds its
 * name; `close()` stops everything (the queue too).
 */
export async function stack(
  queue: RelayQueue,
  relayOptions: { port?: number; wsPort?: number; clientGate?: boolean } = {},
) {
  const { clientGate: withClientGate, ...relayPorts } = relayOptions;
  const [relayId, deviceId, clientId] = await identities(3);
  const s = {
    queue,
    relayId: relayId!,
    relay: await startRelayNode({ identity: relayId!, queue, liveness: LINK, ...relayPorts }),
  };
  const ports = { tcp: Number(s.relay.tcp.split(":")[1]), ws: Number(s.relay.ws.split(":")[1]) };
  const g = gate(() => ports.tcp);
  const { device, received, delivered } = await deviceBehind(g, deviceId!);
  // The client dials the relay's WebSocket, or its TCP port through a gate of its own.
  const clientGate = withClientGate ? gate(() => ports.tcp) : undefined;
  const client = await connectToDevice({
    identity: clientId!,
    relay: clientGate
      ? { transport: "tcp", hostPort: `127.0.0.1:${clientGate.port()}` }
      : { transport: "ws", hostPort: s.relay.ws },
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
  /**
   * Stops the relay and starts it again on the same ports, on a new queue from `queue` (for a
   * persistent store: the same file); `pause` runs while it is down.
   */
  const restartRelay = async (queue: () => RelayQueue, pause?: () => Promise<void>) => {
    await s.relay.close();
    s.queue.close();
    await pause?.();
    s.queue = queue();
    s.relay = await startRelayNode({
      identity: s.relayId,
      queue: s.queue,
      liveness: LINK,
      port: ports.tcp,
      wsPort: ports.ws,
    });
  };
  const close = async () => {
    await client.close();
    await device.close();
    g.down();
    clientGate?.down();
    await s.relay.close();
    s.queue.close();
  };
  return Object.assign(s, {
    ports,
    gate: g,
    clientGate,
    device,
    received,
    delivered,
    client,
    send,
    offline,
    restartRelay,
    close,
  });
}

/** Whether the relay holds `sensor` for its device while the device's link is down. */
export function relayOffline(relay: { relays: RelayService }): boolean {
  return relay.relays.registrations().some((r) => r.name === "sensor" && !r.online);
}
