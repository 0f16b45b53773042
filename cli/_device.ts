/**
 * A device behind NAT: it dials out to the relay, registers a name there, and serves its
 * `telemetry` and `commands` workers only through end-to-end secure channels.
 *
 * ```sh
 * npx -y deno@2.9.6 task device --relay HOST:PORT --name NAME [--state .sealroute/device]
 *                              [--trust I…] [--relay-id I…] [--timeout MS] [--verbose]
 * ```
 *
 * `--relay` is the relay's TCP address (`tcp=` in its startup line; `ws://HOST:PORT` dials
 * its WebSocket instead). The device opens a secure channel to the relay node and registers
 * `NAME` through it, so the name is bound to this device's identity (kept in `--state`,
 * default `.sealroute/device` under the current directory): restarting with the same state
 * takes the name back, another identity is refused. On success it prints
 *
 * ```text
 * device ready identifier=I… name=NAME relay=forward_to_NAME
 * ```
 *
 * and `client connected identifier=I…` for each client channel.
 *
 * Trust. Clients reach the device's secure channel listener `api` through the relay and
 * authenticate end to end; the relay only forwards ciphertext. `--trust I…` (repeatable or
 * comma-separated) names the client identifiers allowed to open a channel (and so to use
 * `telemetry` and `commands`); without it every client is accepted and a warning says so.
 * `telemetry` and `commands` accept only messages that arrived through a channel of the
 * `api` listener, never messages the relay node itself sends over the device's link.
 * `--relay-id I…` pins the relay node's identifier (default: any relay, printed).
 *
 * Errors (one line, exit status 1): `connect-failed` (relay unreachable), `relay-refused`
 * (name held by another identity), `timeout` (no answer from the relay service),
 * `untrusted-peer` (relay is not `--relay-id`), `route-lost` (the relay went away).
 *
 * @module
 */
import {
  type AccessHook,
  createRelay,
  Node,
  type Relay,
  STATIC_RELAY_SERVICE_ADDRESS,
} from "../routing/mod.ts";
import {
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
  type SecureChannelListener,
} from "../channel/mod.ts";
import type {
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import type { Logger } from "../routing/mod.ts";
import type { Connection } from "../transport/mod.ts";
import { SealrouteError } from "../errors.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  dialRelay,
  intFlag,
  parseFlags,
  parseRelayAddress,
  type RelayAddress,
  short,
  stateIdentity,
  trustFlag,
} from "./_roles_common.ts";

/** Options of {@linkcode startDevice}. */
export interface DeviceOptions {
  /** The device's identity. */
  identity: LocalIdentity;
  /** Where the relay node is. */
  relay: RelayAddress;
  /** The relay name to register (`forward_to_<name>` on the relay node). */
  name: string;
  /** Which relay node to trust. Default: any. */
  relayTrust?: TrustPolicy;
  /** Which clients may open channels to `api`. Default: any. */
  clientTrust?: TrustPolicy;
  /** Authorities whose credentials both channels check. */
  authorities?: readonly Identity[];
  /** Credentials the device presents (to the relay and to clients). */
  credentials?: readonly CredentialAndPurposeKey[];
  /** Extra check on `commands` (e.g. an ABAC policy), after "came through `api`". */
  commandsAccess?: AccessHook;
  /** Extra check on `telemetry`, after "came through `api`". */
  telemetryAccess?: AccessHook;
  /** Handshake and registration timeout in ms. Default 5000. */
  timeout?: number;
  /** The node's logger. */
  logger?: Logger;
  /** Called with each client channel accepted. */
  onClient?: (channel: SecureChannel) => void;
}

/** A running device; see {@linkcode startDevice}. */
export interface Device extends AsyncDisposable {
  /** The device's node. */
  readonly node: Node;
  /** The device's identifier. */
  readonly identifier: string;
  /** Its connection to the relay node. */
  readonly connection: Connection;
  /** Its secure channel to the relay node (registration went through it). */
  readonly relayChannel: SecureChannel;
  /** The registered relay. */
  readonly relay: Relay;
  /** The `api` listener clients open channels to. */
  readonly listener: SecureChannelListener;
  /** Messages `commands` executed, in order. */
  readonly executed: readonly string[];
  /** Resolves with why the device lost the relay: the channel to it closed, or `replaced`. */
  readonly lost: Promise<SealrouteError>;
  /** Closes everything. */
  close(): Promise<void>;
}

/** Simulated sensor: a reading with the request's sequence number. */
function reading(seq: number): Uint8Array {
  const t = 21.5 + Math.sin(seq / 10) * 0.5;
  return new TextEncoder().encode(
    JSON.stringify({ seq, temperature: Number(t.toFixed(2)), unit: "C" }),
  );
}

/** The worker option for an optional access hook. */
function access(hook: AccessHook | undefined): { incoming?: AccessHook } {
  return hook ? { incoming: hook } : {};
}

/**
 * Starts a device: dials the relay, opens a channel to its node, registers `name` through
 * it, and serves `api` (channel listener), `telemetry` and `commands`.
 */
export async function startDevice(options: DeviceOptions): Promise<Device> {
  const node = new Node(options.logger ? { logger: options.logger } : {});
  const timeout = options.timeout ?? 5000;
  const common = {
    identity: options.identity,
    timeout,
    ...(options.authorities ? { authorities: options.authorities } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  try {
    const connection = await dialRelay(node, options.relay);
    const relayChannel = await createSecureChannel(node, connection.route.append("api"), {
      ...common,
      ...(options.relayTrust ? { trustPolicy: options.relayTrust } : {}),
    });
    // The relay node closes the channel at once if it does not trust this device; stop
    // waiting for the registration then instead of timing out.
    const refused = new AbortController();
    void relayChannel.closed.then(() => refused.abort());
    // A same-identity takeover elsewhere (another process with this identity registered
    // the name): this one is told, and stops instead of idling as a zombie.
    let replacedBy: ((error: SealrouteError) => void) | undefined;
    const replaced = new Promise<SealrouteError>((resolve) => replacedBy = resolve);
    const relay = await createRelay(node, [relayChannel.address], options.name, {
      service: STATIC_RELAY_SERVICE_ADDRESS,
      timeout,
      signal: refused.signal,
      onReplaced: (error) => replacedBy?.(error),
    }).catch(async (error) => {
      if (relayChannel.isClosed) {
        const reason = await relayChannel.closed;
        throw new CliError(
          reason?.code ?? "closed",
          `the relay node closed the channel: it does not accept this device ` +
            `(${options.identity.identifier})`,
          { cause: reason },
        );
      }
      if (error instanceof SealrouteError && error.code === "relay-refused") {
        throw new CliError(
          "relay-refused",
          `the relay refused the name '${options.name}': it is held by another identity ` +
            `(this device is ${options.identity.identifier})`,
          { cause: error },
        );
      }
      throw error;
    });
    // Clients' handshakes arrive through the relay, inside the channel to the relay node:
    // the listener hears from that channel, and the services only from clients' channels.
    const listener = await createSecureChannelListener(node, "api", {
      ...common,
      consumes: [relayChannel.flow],
      ...(options.clientTrust ? { trustPolicy: options.clientTrust } : {}),
      ...(options.onClient ? { onChannel: options.onClient } : {}),
    });
    const executed: string[] = [];
    node.startWorker("echo", (ctx) => ctx.reply(ctx.message.payload), {
      consumes: [listener.flow],
    });
    node.startWorker("telemetry", (ctx) => {
      // A request is `<seq>` then any padding.
      const seq = Number.parseInt(new TextDecoder().decode(ctx.message.payload.subarray(0, 16)));
      return ctx.reply(reading(Number.isSafeInteger(seq) ? seq : 0));
    }, { consumes: [listener.flow], ...access(options.telemetryAccess) });
    node.startWorker("commands", (ctx) => {
      const command = new TextDecoder().decode(ctx.message.payload);
      executed.push(command);
      return ctx.reply(new TextEncoder().encode(`ok: ${command}`));
    }, { consumes: [listener.flow], ...access(options.commandsAccess) });
    const lost = Promise.race([
      replaced,
      relayChannel.closed.then((reason) =>
        reason ?? new SealrouteError("closed", "the channel to the relay was closed")
      ),
    ]);
    const close = async (): Promise<void> => {
      await relayChannel.close();
      await node.close();
    };
    return {
      node,
      identifier: options.identity.identifier,
      connection,
      relayChannel,
      relay,
      listener,
      executed,
      lost,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await node.close();
    throw error;
  }
}

/** Runs the program with command-line `args` until `stop` aborts. */
export async function main(args: readonly string[], stop: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: ["relay", "name", "state", "timeout"],
    list: ["trust", "relay-id"],
    boolean: ["verbose"],
  });
  const relayText = flags.string.relay;
  const name = flags.string.name;
  if (!relayText || !name) {
    throw new CliError("usage", "usage: device --relay HOST:PORT --name NAME [--state DIR]");
  }
  if (!/^[0-9A-Za-z_.-]{1,64}$/.test(name)) {
    throw new CliError("usage", `--name: letters, digits, '.', '_' or '-' only, got '${name}'`);
  }
  const relayAddress = parseRelayAddress(relayText, "tcp");
  const timeout = intFlag(flags, "timeout", 5000);
  const clientTrust = trustFlag(flags);
  const relayTrust = trustFlag(flags, "relay-id");
  const identity = await stateIdentity(flags.string.state ?? defaultStateDir("device"), "device");
  if (!clientTrust) {
    console.error(
      "device: warning: every client identity is accepted; pass --trust I… to restrict",
    );
  }
  const device = await startDevice({
    identity,
    relay: relayAddress,
    name,
    timeout,
    ...(clientTrust ? { clientTrust } : {}),
    ...(relayTrust ? { relayTrust } : {}),
    logger: consoleLogger("device", { verbose: flags.boolean.verbose ?? false }),
    onClient: (channel) => console.log(`client connected identifier=${channel.remoteIdentifier}`),
  }).catch((error) => {
    if (error instanceof SealrouteError && error.code === "untrusted-peer") {
      throw new CliError("untrusted-peer", `the relay node is not the one --relay-id names`, {
        cause: error,
      });
    }
    throw error;
  });
  try {
    console.log(
      `device ready identifier=${device.identifier} name=${name} relay=${device.relay.address}` +
        ` relay-node=${short(device.relayChannel.remoteIdentifier)}`,
    );
    const reason = await Promise.race([aborted(stop).then(() => undefined), device.lost]);
    if (reason?.code === "replaced") {
      throw new CliError(
        "replaced",
        `another process with this identity (${device.identifier}) registered the name ` +
          `'${name}' at ${relayText}; this one stops (run one device per identity)`,
        { cause: reason },
      );
    }
    if (reason) {
      throw new CliError(
        reason.code,
        `lost the relay at ${relayText}; the name '${name}' is no longer reachable`,
        { cause: reason },
      );
    }
    console.log("device stopping");
  } finally {
    await device.close();
  }
}
