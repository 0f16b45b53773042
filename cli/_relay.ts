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
 * Fleet. `--nats URL[,URL…]` joins a relay fleet on a NATS JetStream cluster (see
 * `Fleet.join`): names are held fleet-wide, devices at other relays are reached over NATS, and
 * the queue lives in JetStream. `--fleet-name` names this relay in the fleet. Credentials come
 * from `SEALROUTE_NATS_USER`/`SEALROUTE_NATS_PASS` or `SEALROUTE_NATS_TOKEN`.
 *
 * @module
 */
import { trustIdentifiers } from "../identity/mod.ts";
import { RelayQueue } from "../routing/mod.ts";
import { SqliteRelayQueueStore } from "../routing/deno.ts";
import { SealrouteError } from "../errors.ts";
import { startRelayNode } from "./_relay_node.ts";
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

export { type RelayNode, type RelayNodeOptions, startRelayNode } from "./_relay_node.ts";

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
      "fleet-name",
      "nats-replicas",
      "max-devices",
    ],
    list: ["trust", "operator", "nats"],
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
  const natsUrls = flags.list.nats ?? [];
  const fleetName = flags.string["fleet-name"] ?? `relay-${identity.identifier.slice(1, 17)}`;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(fleetName)) {
    throw new CliError(
      "usage",
      `--fleet-name: 1-64 letters, digits, '_' or '-', got '${fleetName}'`,
    );
  }
  const replicas = intFlag(flags, "nats-replicas", natsUrls.length >= 3 ? 3 : 1) || 1;
  const fleet = natsUrls.length ? await joinNats(natsUrls, fleetName) : undefined;
  const queue = queueKind === "off" || fleet ? undefined : new RelayQueue({
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
    ...(flags.string["max-devices"]
      ? { maxDevices: intFlag(flags, "max-devices", 4096) || 1 }
      : {}),
    ...(fleet ? { fleet: { client: fleet, name: fleetName, replicas, queue: queueBounds } } : {}),
  }).catch(async (error) => {
    await fleet?.close();
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
  out.event("relay ready", {
    identifier: relay.identifier,
    tcp: relay.tcp,
    ws: relay.ws,
    ...(fleet ? { fleet: fleetName } : {}),
  });
  try {
    await aborted(stop);
    out.event("relay stopping");
  } finally {
    await relay.close();
    queue?.close();
    await fleet?.close();
  }
}

/**
 * Connects to the fleet's NATS cluster, with the credentials of `SEALROUTE_NATS_USER` and
 * `SEALROUTE_NATS_PASS`, or `SEALROUTE_NATS_TOKEN` (secrets stay off the command line); none
 * answering is `fleet-unreachable`.
 */
async function joinNats(urls: readonly string[], name: string) {
  // Loaded only for a fleet: a lone relay does not pay for the NATS client.
  const { FleetClient } = await import("../fleet/deno.ts");
  const env = (key: string) => Deno.env.get(key) || undefined;
  const [user, pass, token] = [
    env("SEALROUTE_NATS_USER"),
    env("SEALROUTE_NATS_PASS"),
    env("SEALROUTE_NATS_TOKEN"),
  ];
  try {
    return await FleetClient.connect(urls, {
      name,
      timeout: 5000,
      ...(user ? { user } : {}),
      ...(pass ? { pass } : {}),
      ...(token ? { token } : {}),
    });
  } catch (error) {
    throw new CliError(
      "fleet-unreachable",
      `no NATS server of --nats answered (${urls.join(", ").slice(0, 120)}); is the cluster up?`,
      { cause: error },
    );
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
