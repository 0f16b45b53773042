/**
 * The relay node behind `sealroute relay`: TCP and WebSocket listeners, the channel listener
 * `api`, the relay service, `status` and `echo`; alone or as a member of a NATS fleet.
 *
 * @module
 */
import {
  createSecureChannelListener,
  LOCAL_INFO_CHANNEL,
  type SecureChannelListener,
} from "../channel/mod.ts";
import type {
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import {
  type Flow,
  LOCAL_INFO_IDENTIFIER,
  type Logger,
  Node,
  type RelayQueue,
  type RelayService,
  type RoutedMessage,
  startEcho,
  startRelayService,
} from "../routing/mod.ts";
import type { Connection } from "../transport/mod.ts";
import { listenTcp, type TcpListener, webSocketHandler } from "../transport/deno.ts";
import type { FleetMember } from "../fleet/mod.ts";
import type { FleetClient } from "../fleet/deno.ts";

/** Options of {@linkcode startRelayNode}. */
export interface RelayNodeOptions {
  /** The relay node's identity (its channel listener's static key). */
  identity: LocalIdentity;
  /** Interface for both listeners. Default `127.0.0.1`. */
  hostname?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** WebSocket port; 0 picks a free one. Default 0. */
  wsPort?: number;
  /** Who may open a channel to this node (and so register a relay). Default: everyone. */
  trustPolicy?: TrustPolicy;
  /**
   * Identifiers that may register names (checked per request, on top of `trustPolicy`).
   * Default: anyone with a channel.
   */
  registrants?: readonly string[];
  /**
   * Store-and-forward: frames for a device whose link is down wait here (bounded) until it
   * registers again. Default: none.
   */
  queue?: RelayQueue;
  /**
   * Identifiers whose channels may ask the `status` worker who is registered. They must
   * pass `trustPolicy` to open a channel at all. Default: none (every request refused).
   */
  operators?: readonly string[];
  /** Authorities whose credentials are checked. */
  authorities?: readonly Identity[];
  /** Credentials this node presents. */
  credentials?: readonly CredentialAndPurposeKey[];
  /** The node's logger. */
  logger?: Logger;
  /**
   * Devices (names and TCP connections) the node serves at once: the relay service's
   * `maxRelays` and the TCP listener's `maxConnections`. Default 4096.
   */
  maxDevices?: number;
  /** Heartbeats and dead-link time of accepted connections. Default 5 s / 30 s. */
  liveness?: { heartbeatInterval?: number; deadAfter?: number };
  /** Called with each accepted connection and its transport. */
  onConnection?: (connection: Connection, transport: "tcp" | "ws") => void;
  /**
   * Joins a relay fleet over NATS (see `Fleet.join`): names are claimed fleet-wide, devices
   * at other relays are reached over NATS, and the queue lives in JetStream (`queue` is then
   * ignored; its bounds come from `fleet.queue`).
   */
  fleet?: {
    /** A connection to the fleet's NATS cluster (this node does not close it). */
    client: FleetClient;
    /** This relay's name in the fleet. */
    name: string;
    /** Replicas of the fleet's buckets and stream. Default 1. */
    replicas?: number;
    /** Bounds of the JetStream queue. */
    queue?: { maxPerName?: number; maxAge?: number };
  };
}

/** A running relay node; see {@linkcode startRelayNode}. */
export interface RelayNode extends AsyncDisposable {
  /** The routing node (add workers to it to observe traffic). */
  readonly node: Node;
  /** The relay node's identifier. */
  readonly identifier: string;
  /** Bound TCP address, `host:port`. */
  readonly tcp: string;
  /** Bound WebSocket address, `host:port`. */
  readonly ws: string;
  /** The relay service (its `relays()` lists registered names). */
  readonly relays: RelayService;
  /** The `api` secure channel listener devices register through. */
  readonly listener: SecureChannelListener;
  /**
   * The flows this node's services hear from: its TCP and WebSocket listeners' and its
   * channel listener's. A worker added to observe traffic consumes them.
   */
  readonly flows: readonly Flow[];
  /** The node's fleet membership, when it joined one. */
  readonly fleet: FleetMember | undefined;
  /** Stops listening and closes every connection, channel and relay. */
  close(): Promise<void>;
}

/** Starts a relay node: TCP + WebSocket listeners, channel listener `api`, relay service. */
export async function startRelayNode(options: RelayNodeOptions): Promise<RelayNode> {
  const hostname = options.hostname ?? "127.0.0.1";
  const node = new Node(options.logger ? { logger: options.logger } : {});
  let tcp: TcpListener | undefined;
  let http: Deno.HttpServer<Deno.NetAddr> | undefined;
  let fleet: FleetMember | undefined;
  try {
    const onConnection = options.onConnection;
    tcp = listenTcp(node, {
      ...(options.maxDevices ? { maxConnections: options.maxDevices } : {}),
      hostname,
      port: options.port ?? 0,
      ...options.liveness,
      ...(onConnection ? { onConnection: (c) => onConnection(c, "tcp") } : {}),
    });
    const ws = webSocketHandler(node, {
      ...options.liveness,
      ...(onConnection ? { onConnection: (c) => onConnection(c, "ws") } : {}),
    });
    http = Deno.serve({ hostname, port: options.wsPort ?? 0, onListen() {} }, ws);
    // What arrives over either listener reaches only the workers below that consume it.
    const listener = await createSecureChannelListener(node, "api", {
      identity: options.identity,
      consumes: [tcp.flow, ws.flow],
      // A device's link that died (closed, or silent past the dead-link time) ends its
      // channel here at once and frees its name: the device dials again, opens a new
      // channel and registers again (clients' end-to-end channels through it carry on).
      closeOnRouteLoss: true,
      ...(options.trustPolicy ? { trustPolicy: options.trustPolicy } : {}),
      ...(options.authorities ? { authorities: options.authorities } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    const flows = [tcp.flow, ws.flow, listener.flow];
    // Clients reach the relays in clear (their own channels run end to end through them);
    // registrations are taken only through one of this node's channels, which carry an
    // identity the service can bind a name to.
    const fromChannel = (message: RoutedMessage): boolean => {
      const channel = message.localInfo[LOCAL_INFO_CHANNEL];
      for (const c of listener.channels) if (c.address.toString() === channel) return true;
      return false;
    };
    const registrants = options.registrants ? new Set(options.registrants) : undefined;
    if (options.fleet) {
      fleet = await options.fleet.client.join({
        node,
        name: options.fleet.name,
        flows,
        ...(options.fleet.replicas ? { replicas: options.fleet.replicas } : {}),
        ...(options.fleet.queue ? { queue: options.fleet.queue } : {}),
      });
    }
    const queue = fleet?.queue ?? options.queue;
    const relays = startRelayService(node, {
      ...(options.maxDevices ? { maxRelays: options.maxDevices } : {}),
      consumes: fleet ? [...flows, fleet.flow] : flows,
      incoming: (message) => {
        if (!fromChannel(message)) return false;
        const identity = message.localInfo[LOCAL_INFO_IDENTIFIER];
        return !registrants || (typeof identity === "string" && registrants.has(identity));
      },
      ...(queue ? { queue } : {}),
      ...(fleet ? { arbiter: fleet.arbiter } : {}),
    });
    await fleet?.attach(relays);
    startStatus(node, { listener, relays, fromChannel, operators: options.operators ?? [] });
    // Ockam nodes serve `echo`; so does this one (through a channel to `api` or in clear).
    startEcho(node, { consumes: flows });
    const tcpListener = tcp;
    const server = http;
    const member = fleet;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        await member?.close();
        await relays.close();
        await tcpListener.close();
        await node.close();
        await server.shutdown();
      })();
      return closing;
    };
    return {
      node,
      identifier: options.identity.identifier,
      tcp: `${hostname}:${tcp.port}`,
      ws: `${hostname}:${http.addr.port}`,
      relays,
      listener,
      flows,
      fleet,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await fleet?.close();
    await tcp?.close();
    await node.close();
    await http?.shutdown();
    throw error;
  }
}

/** The `status` worker: registrations as JSON, for operators' channels only. */
function startStatus(node: Node, options: {
  listener: SecureChannelListener;
  relays: RelayService;
  fromChannel: (message: RoutedMessage) => boolean;
  operators: readonly string[];
}): void {
  const operators = new Set(options.operators);
  const encoder = new TextEncoder();
  node.startWorker("status", async (ctx) => {
    // Only messages decrypted by one of this node's `api` channels reach here (the flow),
    // and their local info (set by the channel, never from the wire) names the peer.
    if (!options.fromChannel(ctx.message)) return;
    const identity = ctx.message.localInfo[LOCAL_INFO_IDENTIFIER];
    let reply: string;
    if (typeof identity === "string" && operators.has(identity)) {
      const names = options.relays.registrations().map((r) => ({
        name: r.name,
        ...(r.identity === undefined ? {} : { identity: r.identity }),
        since: new Date(r.since).toISOString(),
        online: r.online,
        queued: r.queued,
      }));
      reply = JSON.stringify({ names, count: names.length });
      node.logger.info("status served", { identity, count: names.length });
    } else {
      node.logger.warn("status refused a request: not an operator", { identity });
      reply = `error:not-operator: ${String(identity)} is not an operator of this relay`;
    }
    await ctx.reply(encoder.encode(reply)).catch((error) => {
      node.logger.debug("status reply not delivered", { error });
    });
  }, { consumes: [options.listener.flow] });
}
