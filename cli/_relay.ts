/**
 * The relay node: a public rendezvous that devices dial out to and clients dial in to.
 *
 * ```sh
 * npx -y deno@2.9.6 task relay [--port 4000] [--ws-port 4001] [--state .sealroute/relay]
 *                             [--trust I…] [--verbose]
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
import {
  type Flow,
  type Logger,
  Node,
  type RelayService,
  startEcho,
  startRelayService,
} from "../routing/mod.ts";
import type { Connection } from "../transport/mod.ts";
import { SealrouteError } from "../errors.ts";
import { listenTcp, type TcpListener, webSocketHandler } from "../transport/deno.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  parseFlags,
  portFlag,
  stateIdentity,
  trustFlag,
} from "./_roles_common.ts";

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
  /** Authorities whose credentials are checked. */
  authorities?: readonly Identity[];
  /** Credentials this node presents. */
  credentials?: readonly CredentialAndPurposeKey[];
  /** The node's logger. */
  logger?: Logger;
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
      ...(onConnection ? { onConnection: (c) => onConnection(c, "tcp") } : {}),
    });
    const ws = webSocketHandler(
      node,
      onConnection ? { onConnection: (c) => onConnection(c, "ws") } : {},
    );
    http = Deno.serve({ hostname, port: options.wsPort ?? 0, onListen() {} }, ws);
    // What arrives over either listener reaches only the workers below that consume it.
    const listener = await createSecureChannelListener(node, "api", {
      identity: options.identity,
      consumes: [tcp.flow, ws.flow],
      // The role programs dial plain (not reconnecting) links: a device whose connection
      // dropped is gone, so its channel closes at once and its name is freed for its return.
      closeOnRouteLoss: true,
      ...(options.trustPolicy ? { trustPolicy: options.trustPolicy } : {}),
      ...(options.authorities ? { authorities: options.authorities } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    const flows = [tcp.flow, ws.flow, listener.flow];
    // Clients reach the relays in clear (their own channels run end to end through them);
    // registrations are taken only through one of this node's channels, which carry an
    // identity the service can bind a name to.
    const relays = startRelayService(node, {
      consumes: flows,
      incoming: (message) => {
        const channel = message.localInfo[LOCAL_INFO_CHANNEL];
        for (const c of listener.channels) if (c.address.toString() === channel) return true;
        return false;
      },
    });
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

/** Runs the program with command-line `args` until `stop` aborts. */
export async function main(args: readonly string[], stop: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: ["port", "ws-port", "state", "hostname"],
    list: ["trust"],
    boolean: ["verbose"],
  });
  const port = portFlag(flags, "port", 4000);
  const wsPort = portFlag(flags, "ws-port", 4001);
  const trustPolicy = trustFlag(flags);
  const identity = await stateIdentity(flags.string.state ?? defaultStateDir("relay"), "relay");
  const logger = consoleLogger("relay", {
    verbose: flags.boolean.verbose ?? false,
    filter: (message, fields) => {
      if (message === "relay registered") {
        console.log(`relay registered name=${fields.relay} identity=${fields.identity}`);
        return true;
      }
      if (message === "relay removed") {
        console.log(`relay removed name=${fields.relay}`);
        return true;
      }
      if (message === "connection lost" && !flags.boolean.verbose) {
        // A peer going away is routine for a relay; its relays' removal is printed.
        const reason = fields.reason;
        return reason instanceof SealrouteError && reason.code === "connection-closed";
      }
      if (message === "relay service refused a request") {
        console.log(`relay refused ${fields.reason}`);
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
    ...(trustPolicy ? { trustPolicy } : {}),
    logger,
  }).catch((error) => {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        "address-in-use",
        `port ${port} or ${wsPort} on ${flags.string.hostname ?? "127.0.0.1"} is already in use; ` +
          `stop the other program or pass --port/--ws-port`,
      );
    }
    throw error;
  });
  if (!trustPolicy) {
    console.error(
      "relay: warning: any identity may register a free relay name; pass --trust I… to restrict",
    );
  }
  console.log(`relay ready identifier=${relay.identifier} tcp=${relay.tcp} ws=${relay.ws}`);
  await aborted(stop);
  console.log("relay stopping");
}
