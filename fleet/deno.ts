/**
 * The fleet's Deno (and Node) adapter: opens NATS connections with the official
 * `@nats-io/transport-node` client, which dials with `node:net` and so cannot live in the
 * portable `fleet` module. The connection it returns fits `NatsLinkClient`.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { TransportError } from "../errors.ts";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Fleet, type FleetMember, type FleetOptions } from "./fleet_relay.ts";
import type { NatsLinkClient, NatsLinkMessage, NatsLinkSubscription } from "./nats_link.ts";

/** Options for {@linkcode connectNats}: a subset of the NATS client's `ConnectionOptions`. */
export interface ConnectNatsOptions {
  /** A client name shown by the server's monitoring. */
  name?: string;
  /** Whether to reconnect when the connection is lost. Default `true`. */
  reconnect?: boolean;
  /** Reconnect attempts before giving up; -1 never gives up. Default -1. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts to one server, in ms. Default 250. */
  reconnectTimeWait?: number;
  /** Try `servers` in the order given instead of shuffled. Default `false`. */
  noRandomize?: boolean;
  /** How long the first connection may take, in ms. The client's default is 20 s. */
  timeout?: number;
  /** Interval of the client's pings to the server, in ms. The client's default is 2 min. */
  pingInterval?: number;
  /** Credentials, when the cluster requires them. */
  user?: string;
  /** The password for `user`. */
  pass?: string;
  /** A token, when the cluster requires one. */
  token?: string;
}

/** A NATS connection as the fleet uses it (the official client's `NatsConnection` fits). */
export interface FleetNatsConnection extends NatsLinkClient {
  /** Subscribes to `subject` (wildcards allowed); messages go to `callback`. */
  subscribe(
    subject: string,
    options: {
      callback(error: Error | null, message: NatsLinkMessage & { subject: string }): void;
    },
  ): NatsLinkSubscription;
  /** Resolves once the server has processed everything sent so far. */
  flush(): Promise<void>;
  /** Closes the connection (what is buffered is flushed first). */
  close(): Promise<void>;
  /** `host:port` of the server currently connected to. */
  getServer(): string;
  /** Connection events: `disconnect`, `reconnecting`, `reconnect`, `close`, ... */
  status(): AsyncIterable<{ type: string }>;
}

/**
 * Connects to a NATS cluster through any of `servers` (`nats://host:port`), reconnecting
 * forever (every 250 ms by default) to whichever of them, or of the servers the cluster
 * announces, answers. What is published while reconnecting is buffered by the client.
 *
 * @throws {TransportError} code `connect-failed` when no server answers the first time.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectNats } from "@sealroute/sealroute/fleet/deno";
 *
 * const error = await connectNats(["nats://127.0.0.1:9"], { reconnect: false }).catch((e) => e);
 * assert.equal(error.code, "connect-failed");
 * ```
 */
export async function connectNats(
  servers: readonly string[],
  options: ConnectNatsOptions = {},
): Promise<FleetNatsConnection> {
  return await dial(servers, options);
}

/**
 * A connection to the fleet's NATS cluster with a JetStream client over it: what a relay
 * joins a fleet through ({@linkcode FleetClient.join}).
 */
export class FleetClient {
  /** The connection (core NATS: the relays' links and notices). */
  readonly nats: FleetNatsConnection;
  readonly #js: JetStreamClient;

  private constructor(nats: FleetNatsConnection, js: JetStreamClient) {
    this.nats = nats;
    this.#js = js;
  }

  /**
   * Connects as {@linkcode connectNats} does and makes a JetStream client over the connection.
   *
   * @throws {TransportError} code `connect-failed` when no server answers the first time.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { FleetClient } from "@sealroute/sealroute/fleet/deno";
   *
   * const error = await FleetClient.connect(["nats://127.0.0.1:9"], { reconnect: false })
   *   .catch((e) => e);
   * assert.equal(error.code, "connect-failed");
   * ```
   */
  static async connect(
    servers: readonly string[],
    options: ConnectNatsOptions = {},
  ): Promise<FleetClient> {
    const nc = await dial(servers, options);
    return new FleetClient(nc, jetstream(nc));
  }

  /** The JetStream client over `client`'s connection (for `FleetRegistry.open` and the like). */
  static jetstream(client: FleetClient): JetStreamClient {
    return client.#js;
  }

  /** Makes a relay node a member of the fleet over this connection (see `Fleet.join`). */
  join(options: Omit<FleetOptions, "nats">): Promise<FleetMember> {
    return Fleet.join({ ...options, nats: this.nats }, this.#js);
  }

  /** Closes the connection (what is buffered is flushed first). */
  close(): Promise<void> {
    return this.nats.close();
  }
}

async function dial(
  servers: readonly string[],
  options: ConnectNatsOptions,
): Promise<FleetNatsConnection & NatsConnection> {
  try {
    const nc = await connect({
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...options,
      servers: [...servers],
    });
    return nc;
  } catch (error) {
    throw new TransportError(
      "connect-failed",
      `no NATS server answered (${servers.length} tried)`,
      {
        cause: error,
      },
    );
  }
}
