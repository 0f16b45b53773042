// `sealroute inlet --relay HOST:PORT --to NAME --listen HOST:PORT`: the client side of a
// portal. It opens a secure channel through the relay to the device NAME (as `client`
// does: the link heals, the channel carries on), listens on --listen, and for each
// accepted TCP connection opens a portal to the device's outlet through that channel.
// State role `client` (its identity); `--trust I…` names the devices accepted, else the
// device met under NAME is pinned on first use in `<state>/known_devices.json` (the file
// `client` keeps). Runs until SIGINT/SIGTERM.
import { SealrouteError } from "../errors.ts";
import { trustIdentifiers } from "../identity/mod.ts";
import { createTcpInlet } from "../portal/deno.ts";
import { connectToDevice } from "./_client.ts";
import { Output } from "./_output.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  intFlag,
  linkFlags,
  parseFlags,
  parseRelayAddress,
  routeText,
  short,
  stateIdentity,
  transportFlag,
  trustFlag,
} from "./_roles_common.ts";

const USAGE = "usage: inlet --relay HOST:PORT --to NAME --listen HOST:PORT (see inlet --help)";

/** `--listen HOST:PORT` (port 0 = any free port). */
function listenFlag(text: string | undefined): { hostname: string; port: number } {
  const m = text === undefined ? null : /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) {
    throw new CliError(
      "usage",
      text === undefined ? USAGE : `--listen '${text.slice(0, 64)}': expected HOST:PORT`,
    );
  }
  return { hostname: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
}

// Trust on first use: device identifiers pinned by relay name (the file `client` keeps).
async function readPins(file: string): Promise<Record<string, string>> {
  try {
    const parsed: unknown = JSON.parse(await Deno.readTextFile(file));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return parsed as Record<string, string>;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw new CliError(
      "corrupt-state",
      `cannot read ${file} (${(error as Error).name}); fix or delete that file`,
    );
  }
}

/** Runs `sealroute inlet` with command-line `args` until `stop` aborts. */
export async function inletMain(args: readonly string[], stop: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: [
      "relay",
      "to",
      "listen",
      "transport",
      "timeout",
      "state",
      "heartbeat",
      "dead-after",
      "idle-timeout",
      "outlet",
    ],
    list: ["trust"],
    boolean: ["verbose", "json"],
  });
  const relayText = flags.string.relay;
  const to = flags.string.to;
  if (!relayText || !to) throw new CliError("usage", USAGE);
  const listen = listenFlag(flags.string.listen);
  const outletAddress = flags.string.outlet ?? "outlet";
  if (!/^[0-9A-Za-z_.-]{1,64}$/.test(outletAddress)) {
    throw new CliError("usage", `--outlet: letters, digits, '.', '_' or '-' only`);
  }
  const timeout = intFlag(flags, "timeout", 5000);
  const idleTimeout = intFlag(flags, "idle-timeout", 15 * 60_000);
  const link = linkFlags(flags);
  const relay = parseRelayAddress(relayText, transportFlag(flags, "ws"));
  const explicitTrust = trustFlag(flags);
  const out = new Output({ json: flags.boolean.json ?? false });
  const stateDir = flags.string.state ?? defaultStateDir("client");
  const identity = await stateIdentity(stateDir, "client");
  const logger = consoleLogger("inlet", { verbose: flags.boolean.verbose ?? false });
  // Trust on first use, as `client` does (the same pins file: the same state role).
  const pinsFile = `${stateDir}/known_devices.json`;
  const pins = await readPins(pinsFile);
  const pinned = pins[to];
  const trustPolicy = explicitTrust ?? (pinned ? trustIdentifiers(pinned) : undefined);
  const client = await connectToDevice({
    identity,
    relay,
    to,
    timeout,
    link,
    logger,
    ...(trustPolicy ? { trustPolicy } : {}),
  }).catch((error) => {
    if (error instanceof SealrouteError && error.code === "untrusted-peer") {
      throw new CliError(
        "untrusted-peer",
        explicitTrust
          ? `the device under '${to}' is not one --trust names`
          : `the device under '${to}' is not ${pinned}, pinned on first use in ${pinsFile}` +
            ` (delete that entry if the device was replaced)`,
        { cause: error },
      );
    }
    throw error;
  });
  let stopping = false;
  try {
    const device = client.channel.remoteIdentifier;
    if (!trustPolicy) {
      pins[to] = device;
      // Atomic: a crash leaves either the old file or the new one, never half of one.
      const temp = `${pinsFile}.tmp-${Deno.pid}`;
      await Deno.writeTextFile(temp, JSON.stringify(pins, null, 2) + "\n");
      await Deno.rename(temp, pinsFile);
      out.warn(
        "inlet",
        `trusting device ${device} on first use (pinned in ${pinsFile}); pass --trust I… to ` +
          `name it explicitly`,
      );
    }
    out.event("inlet connected", {
      device,
      route: routeText(relay, client.route),
      handshake_ms: client.handshakeMs.toFixed(1),
    });
    // A channel the device lost is replaced (the session's request reopens it).
    const watch = (): void => {
      const channel = client.session.channel;
      void channel.closed.then(async (reason) => {
        if (stopping) return;
        out.event("inlet channel-lost", { reason: reason?.code ?? "closed" });
        await client.session.request("echo", new Uint8Array()).then(() => {
          out.event("inlet reopened", { handshakes: client.session.handshakes });
          watch();
        }, (error) => {
          out.warn("inlet", `could not reopen the channel: ${(error as Error).message}`);
        });
      });
    };
    watch();
    let inlet;
    try {
      inlet = createTcpInlet(client.node, {
        ...listen,
        route: () => [client.session.channel.address, outletAddress],
        timeout,
        idleTimeout,
      });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new CliError(
          "address-in-use",
          `--listen ${flags.string.listen}: port ${listen.port} is in use; pick another`,
          { cause: error },
        );
      }
      throw new CliError(
        "listen-failed",
        `cannot listen on ${flags.string.listen}: ${(error as Error).name}`,
        { cause: error },
      );
    }
    out.event("inlet ready", {
      listen: `${inlet.addr.hostname}:${inlet.port}`,
      to,
      device: short(device),
    });
    await aborted(stop);
    stopping = true;
    out.event("inlet stopping");
    await inlet.close();
  } finally {
    stopping = true;
    await client.close();
  }
}
