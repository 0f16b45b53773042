// The programs that run a device (`sealroute device`, `sealroute listen`): flags checked
// before the disk is touched, the device started with a link that heals, its events printed
// (text or JSON lines), and its end (a signal, `replaced`, the name lost) turned into an
// exit.
import { SealrouteError } from "../errors.ts";
import { type Device, startDevice } from "./_device.ts";
import { ChannelStateStore } from "../channel/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { SqliteDeliveryReceiverState } from "../delivery/deno.ts";
import { DeliveryTally } from "./_delivery_tally.ts";
import { membership } from "./_membership.ts";
import { type FieldValue, Output } from "./_output.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  type Flags,
  intFlag,
  linkFlags,
  parseFlags,
  parseRelayAddress,
  short,
  stateIdentity,
  trustFlag,
} from "./_roles_common.ts";

/** What differs between the device programs. */
export interface DeviceRole {
  /** The role: names the state directory, the identity and the log prefix. */
  role: "device" | "listen" | "outlet";
  /** The one-line usage shown when --relay or --name is missing. */
  usage: string;
  /** Extra string flags. */
  strings?: readonly string[];
  /** Checks the extra flags (before anything touches the disk). */
  validate?: (flags: Flags) => void;
  /** Starts the role's own workers on the running device; returns fields of its ready line. */
  ready: (device: Device, flags: Flags, out: Output) => Record<string, FieldValue>;
}

/** Runs a device program with command-line `args` until `stop` aborts or the device is lost. */
export async function runDeviceRole(
  args: readonly string[],
  stop: AbortSignal,
  spec: DeviceRole,
): Promise<void> {
  const { role } = spec;
  const flags = parseFlags(args, {
    string: [
      "relay",
      "name",
      "state",
      "timeout",
      "heartbeat",
      "dead-after",
      "enroll",
      "authority",
      ...spec.strings ?? [],
    ],
    list: ["trust", "relay-id"],
    boolean: ["verbose", "json", "resume"],
  });
  const relayText = flags.string.relay;
  const name = flags.string.name;
  if (!relayText || !name) throw new CliError("usage", spec.usage);
  if (!/^[0-9A-Za-z_.-]{1,64}$/.test(name)) {
    throw new CliError("usage", `--name: letters, digits, '.', '_' or '-' only, got '${name}'`);
  }
  spec.validate?.(flags);
  const relayAddress = parseRelayAddress(relayText, "tcp");
  const timeout = intFlag(flags, "timeout", 5000);
  const link = linkFlags(flags);
  const clientTrust = trustFlag(flags);
  const relayTrust = trustFlag(flags, "relay-id");
  const out = new Output({ json: flags.boolean.json ?? false });
  const stateDir = flags.string.state ?? defaultStateDir(role);
  const identity = await stateIdentity(stateDir, role);
  // Enrolled at an authority: present its credential, and accept only its members.
  using member = await membership(flags, { stateDir, identity, out, role });
  const accepted = clientTrust ?? member?.trustPolicy;
  if (!accepted) out.warn(role, "every client identity is accepted; pass --trust I… to restrict");
  // Clients' channels survive a crash of this process: their state in <state>/channels, and
  // the delivery receiver's record (with this tally, in the same transaction as each
  // message's record) in <state>/delivery.db, so their streams go on exactly once.
  const resume = flags.boolean.resume
    ? new ChannelStateStore(new FileKeyStore(`${stateDir}/channels`))
    : undefined;
  if (resume) await Deno.mkdir(stateDir, { recursive: true });
  using deliveryState = resume
    ? new SqliteDeliveryReceiverState(`${stateDir}/delivery.db`)
    : undefined;
  const streams = new DeliveryTally(deliveryState?.database);
  const device = await startDevice({
    ...(resume ? { resume } : {}),
    ...(deliveryState ? { deliveryState } : {}),
    onDelivered: (message) => {
      if (!deliveryState) return streams.count(message);
      deliveryState.transaction(() => {
        streams.count(message);
        message.commit();
      });
    },
    identity,
    relay: relayAddress,
    name,
    timeout,
    link,
    ...(accepted ? { clientTrust: accepted } : {}),
    ...(member ? { authorities: [member.authority], credentialSource: member.source } : {}),
    ...(relayTrust ? { relayTrust } : {}),
    logger: consoleLogger(role, { verbose: flags.boolean.verbose ?? false }),
    onClient: (channel) => out.event("client connected", { identifier: channel.remoteIdentifier }),
    onRegistered: (registrations) => {
      if (registrations > 1) out.event(`${role} registered`, { name, registrations });
    },
    onRetry: (error, retryIn) =>
      out.event(`${role} retry`, {
        reason: error instanceof SealrouteError ? error.code : "unexpected",
        retry_in_ms: retryIn,
      }),
  }).catch((error) => {
    if (error instanceof SealrouteError && error.code === "untrusted-peer") {
      throw new CliError("untrusted-peer", `the relay node is not the one --relay-id names`, {
        cause: error,
      });
    }
    throw error;
  });
  device.link.on((event) => {
    if (event.type === "lost") {
      out.event(`${role} link-lost`, {
        relay: relayText,
        reason: event.reason instanceof SealrouteError ? event.reason.code : "closed",
      });
    } else if (event.type === "connected") {
      out.event(`${role} reconnected`, { relay: relayText, reconnects: device.link.reconnects });
    }
  });
  try {
    out.event(`${role} ready`, {
      identifier: device.identifier,
      name,
      relay: device.relay.address.toString(),
      resumed: resume ? device.resumed : undefined,
      ...spec.ready(device, flags, out),
    });
    const reason = await Promise.race([aborted(stop).then(() => undefined), device.lost]);
    if (reason) throw lostError(reason, { role, name, relayText, identifier: device.identifier });
    out.event(`${role} stopping`, {
      delivered: streams.delivered || undefined,
      duplicates: streams.delivered ? streams.duplicates : undefined,
      out_of_order: streams.delivered ? streams.outOfOrder : undefined,
    });
  } finally {
    await device.close();
  }
}

/** Why a running device stops, as the error its program exits with. */
function lostError(
  reason: SealrouteError,
  at: { role: string; name: string; relayText: string; identifier: string },
): CliError {
  const { role, name, relayText, identifier } = at;
  if (reason.code === "replaced") {
    return new CliError(
      "replaced",
      `another process with this identity (${identifier}) registered the name '${name}' at ` +
        `${relayText}; this one stops (run one ${role} per identity)`,
      { cause: reason },
    );
  }
  if (reason.code === "relay-refused") {
    return new CliError(
      "relay-refused",
      `while the link to ${relayText} was down another identity registered '${name}'; this ` +
        `${role} (${identifier}) cannot take it back`,
      { cause: reason },
    );
  }
  return new CliError(
    reason.code,
    `lost the relay at ${relayText} for good; the name '${name}' is no longer reachable`,
    { cause: reason },
  );
}

/** Runs `sealroute device` with command-line `args` until `stop` aborts. */
export function deviceMain(args: readonly string[], stop: AbortSignal): Promise<void> {
  return runDeviceRole(args, stop, {
    role: "device",
    usage: "usage: device --relay HOST:PORT --name NAME [--state DIR]",
    ready: (device) => ({ "relay-node": short(device.relayChannel.remoteIdentifier) }),
  });
}
