/**
 * The relay node: a public rendezvous that devices dial out to and clients dial in to.
 *
 * ```sh
 * npx -y deno@2.9.6 task relay [--port 4000] [--ws-port 4001] [--state .sealroute/relay]
 *                             [--trust I…] [--operator I…] [--verbose]
 * ```
 *
 * It listens on TCP (devices) and WebSocket (clients, browsers, edge functions), runs a
 * secure channel listener `api`, the echo service `echo` (as Ockam nodes do) and the relay
 * service (`forwarding_service`, alias
 * `static_forwarding_service`, relays at `forward_to_<name>`, OCKAM_WIRE §7). On startup
 * it prints one parseable line:
 *
 * ```text
 * relay ready identifier=I… tcp=127.0.0.1:4000 ws=127.0.0.1:4001
 * ```
 *
 * then `relay registered name=… identity=I…`, `relay removed name=…` and
 * `relay refused …` as devices come and go.
 *
 * Trust. A device registers its name through a secure channel to this node, so every name
 * is bound to the identity that registered it: while it is held, only the same identity
 * may take it over (a device restarting with its state directory); anyone else gets
 * `relay-refused`. A name is freed when its device's connection drops. Requests that do
 * not come through one of this node's channels are dropped. By default any identity may
 * register a free name (a warning says so); `--trust I…` (repeatable or comma-separated)
 * restricts registration to those identifiers. The relay never sees plaintext: clients
 * open their own end-to-end channels to devices through it.
 *
 * Status. The worker `status` tells an operator which names are registered and by whom
 * (JSON `{names: [{name, identity, since}], count}`). It answers only messages that came
 * through one of this node's `api` channels from an identifier given with `--operator I…`
 * (repeatable or comma-separated); anyone else gets `error:not-operator: …` and the relay
 * logs a warning. Without `--operator` nobody may ask. With `--trust`, operators are also
 * admitted to the channel listener (to ask `status`), but may register names only if
 * `--trust` names them too.
 *
 * The identity is kept in `--state` (default `.sealroute/relay` under the current
 * directory), so the identifier printed stays the same across restarts.
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
import { trustIdentifiers } from "../identity/mod.ts";
import {
  type Flow,
  LOCAL_INFO_IDENTIFIER,
  type Logger,
  Node,
  RelayQueue,
  type RelayService,
  type RoutedMessage,
  startEcho,
  startRelayService,
} from "../routing/mod.ts";
import { SqliteRelayQueueStore } from "../routing/deno.ts";
import type { Connection } from "../transport/mod.ts";
import { SealrouteError } from "../errors.ts";
import { listenTcp, type TcpListener, webSocketHandler } from "../transport/deno.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  intFlag,
  linkFlags,
  parseFlags,
  portFlag,
  stateIdentity,
  trustFlag,
} from "./_roles_common.ts";
import { Output } from "./_output.ts";

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
  /** Heartbeats and dead-link time of accepted connections. Default 5 s / 30 s. */
  liveness?: { heartbeatInterval?: number; deadAfter?: number };
  /** Called with each accepted connection and its transport. */
  onConnection?: (connection: Connection, transport: "tcp" | "ws") => void;
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
  /** Stops listening and closes every connection, channel and relay. */
  close(): Promise<void>;
}

/** Starts a relay node: TCP + WebSocket listeners, channel listener `api`, relay service. */
export async function startRelayNode(options: RelayNodeOptions): Promise<RelayNode> {
  const hostname = options.hostname ?? "127.0.0.1";
  const node = new Node(options.logger ? { logger: options.logger } : {});
  let tcp: TcpListener | undefined;
  let http: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    const onConnection = options.onConnection;
    tcp = listenTcp(node, {
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
    const relays = startRelayService(node, {
      consumes: flows,
      incoming: (message) => {
        if (!fromChannel(message)) return false;
        const identity = message.localInfo[LOCAL_INFO_IDENTIFIER];
        return !registrants || (typeof identity === "string" && registrants.has(identity));
      },
      ...(options.queue ? { queue: options.queue } : {}),
    });
    startStatus(node, { listener, relays, fromChannel, operators: options.operators ?? [] });
    // Ockam nodes serve `echo`; so does this one (through a channel to `api` or in clear).
    startEcho(node, { consumes: flows });
    const tcpListener = tcp;
    const server = http;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
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
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
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

/** Runs the program with command-line `args` until `stop` aborts. */
export async function main(args: readonly string[], stop: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: [
      "port",
      "ws-port",
      "state",
      "hostname",
      "heartbeat",
      "dead-after",
      "queue",
      "queue-max-per-name",
      "queue-max-age",
    ],
    list: ["trust", "operator"],
    boolean: ["verbose", "json"],
  });
  const out = new Output({ json: flags.boolean.json ?? false });
  const port = portFlag(flags, "port", 4000);
  const { heartbeatInterval, deadAfter } = linkFlags(flags);
  const wsPort = portFlag(flags, "ws-port", 4001);
  const trusted = trustFlag(flags);
  const operators = trustFlag(flags, "operator") ? flags.list.operator! : [];
  // Operators may open a channel to ask `status`; registering stays with --trust.
  const trustPolicy = trusted && operators.length
    ? trustIdentifiers(...flags.list.trust!, ...operators)
    : trusted;
  const registrants = trusted && operators.length ? flags.list.trust! : undefined;
  const queueKind = flags.string.queue ?? "sqlite";
  if (!["sqlite", "memory", "off"].includes(queueKind)) {
    throw new CliError("usage", `--queue expects sqlite, memory or off, got '${queueKind}'`);
  }
  const queueBounds = {
    maxPerName: intFlag(flags, "queue-max-per-name", 1000) || 1,
    maxAge: intFlag(flags, "queue-max-age", 3_600_000) || 1,
  };
  const stateDir = flags.string.state ?? defaultStateDir("relay");
  const identity = await stateIdentity(stateDir, "relay");
  const queue = queueKind === "off" ? undefined : new RelayQueue({
    ...queueBounds,
    ...(queueKind === "sqlite" ? { store: openQueueStore(`${stateDir}/queue.db`) } : {}),
  });
  const logger = consoleLogger("relay", {
    verbose: flags.boolean.verbose ?? false,
    filter: (message, fields) => {
      if (message === "relay registered") {
        out.event("relay registered", {
          name: String(fields.relay),
          identity: String(fields.identity),
        });
        return true;
      }
      if (message === "relay offline, queueing") {
        out.event("relay offline", { name: String(fields.relay) });
        return true;
      }
      if (message === "relay queue forwarded") {
        out.event("relay forwarded", { name: String(fields.relay), frames: Number(fields.frames) });
        return true;
      }
      if (message === "relay removed") {
        out.event("relay removed", { name: String(fields.relay) });
        return true;
      }
      if (message === "connection lost" && !flags.boolean.verbose) {
        // A peer going away is routine for a relay; its relays' removal is printed.
        const reason = fields.reason;
        return reason instanceof SealrouteError && reason.code === "connection-closed";
      }
      if (message === "relay service refused a request") {
        out.event("relay refused", { reason: String(fields.reason) });
        return true;
      }
      return false;
    },
  });
  await using relay = await startRelayNode({
    identity,
    hostname: flags.string.hostname ?? "127.0.0.1",
    port,
    wsPort,
    liveness: { heartbeatInterval: heartbeatInterval ?? 5000, deadAfter: deadAfter ?? 30_000 },
    ...(trustPolicy ? { trustPolicy } : {}),
    ...(registrants ? { registrants } : {}),
    operators,
    logger,
    ...(queue ? { queue } : {}),
  }).catch((error) => {
    if (error instanceof Deno.errors.AddrInUse) {
      const hostname = flags.string.hostname ?? "127.0.0.1";
      const [busy, flag] = inUse(hostname, port) ? [port, "--port"] : [wsPort, "--ws-port"];
      throw new CliError(
        "address-in-use",
        `port ${busy} on ${hostname} is already in use; stop the other program or pass ` +
          `${flag} with another port`,
      );
    }
    throw error;
  });
  if (!trustPolicy) {
    out.warn("relay", "any identity may register a free relay name; pass --trust I… to restrict");
  }
  if (!operators.length) {
    out.warn(
      "relay",
      "nobody may ask this relay's status; pass --operator I… (the identifier from: " +
        "sealroute identity show --role operator)",
    );
  }
  out.event("relay ready", { identifier: relay.identifier, tcp: relay.tcp, ws: relay.ws });
  try {
    await aborted(stop);
    out.event("relay stopping");
  } finally {
    await relay.close();
    queue?.close();
  }
}

/** The relay's SQLite queue file; one that cannot be opened is `corrupt-state`, naming it. */
function openQueueStore(path: string): SqliteRelayQueueStore {
  try {
    return new SqliteRelayQueueStore(path);
  } catch (error) {
    throw new CliError(
      "corrupt-state",
      `cannot open the relay's queue ${path} (${(error as Error).message.slice(0, 80)}); ` +
        `fix or delete that file, or pass --queue memory`,
    );
  }
}

/** Whether `port` on `hostname` is taken (to name the port a failed start collided on). */
function inUse(hostname: string, port: number): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.AddrInUse;
  }
}
