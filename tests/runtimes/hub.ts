/**
 * The Deno side of the WebSocket and TCP parts of the runtime scenario: a relay node serving
 * WebSockets on loopback (`Deno.serve` + `webSocketHandler` + the relay service), also
 * listening for Ockam TCP (the Deno adapter's `listenTcp`, for `tcp_scenario.ts`), and a
 * "device" node that connects to it over WebSocket, registers the relay `device` and
 * listens for secure channels at `api` with an echo behind it.
 *
 * Run as a program it prints one JSON line ({@linkcode HubInfo}) and serves until stdin
 * closes or it gets SIGTERM/SIGINT, so a driver in another runtime can use it:
 * `deno run --allow-net tests/runtimes/hub.ts`.
 *
 * @module
 */
import { createSecureChannelListener } from "../../channel/mod.ts";
import { createIdentity } from "../../identity/mod.ts";
import { createRelay, Node, startEcho, startRelayService } from "../../routing/mod.ts";
import { connectWebSocket } from "../../transport/mod.ts";
import { listenTcp, webSocketHandler } from "../../transport/deno.ts";
import { Vault } from "../../vault/mod.ts";
import type { HubInfo } from "./scenario.ts";

/** A running hub. */
export interface Hub {
  /** What a scenario needs to reach the device. */
  info: HubInfo;
  /** Stops both nodes and the server. */
  close(): Promise<void>;
}

/** Starts the relay node on a free loopback port and the device behind its relay. */
export async function startHub(): Promise<Hub> {
  const relayNode = new Node();
  const handler = webSocketHandler(relayNode);
  // Node and Bun reach the relay over TCP too (tcp_scenario.ts, the Node adapter).
  const tcp = listenTcp(relayNode, { hostname: "127.0.0.1", port: 0 });
  startRelayService(relayNode, { consumes: [handler.flow, tcp.flow] });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `ws://127.0.0.1:${server.addr.port}`;
  const device = new Node();
  try {
    const identity = await createIdentity(new Vault());
    const connection = await connectWebSocket(device, url);
    const listener = await createSecureChannelListener(device, "api", {
      identity,
      consumes: [connection.flow],
    });
    startEcho(device, { consumes: [listener.flow] });
    const relay = await createRelay(device, connection.route, "device", {
      timeout: 10_000,
    });
    return {
      info: {
        url,
        relay: relay.address.toString(),
        device: identity.identifier,
        tcp: `127.0.0.1:${tcp.port}`,
      },
      async close() {
        await device.close();
        await relayNode.close();
        await server.shutdown();
      },
    };
  } catch (error) {
    await device.close();
    await relayNode.close();
    await server.shutdown();
    throw error;
  }
}

if (import.meta.main) {
  const hub = await startHub();
  console.log(JSON.stringify(hub.info));
  const { promise: stop, resolve } = Promise.withResolvers<void>();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, resolve);
  }
  // The driver holds stdin open; when it exits (even killed), stdin closes and so do we.
  void (async () => {
    for await (const _ of Deno.stdin.readable) { /* ignore input */ }
    resolve();
  })();
  await stop;
  await hub.close();
  Deno.exit(0);
}
