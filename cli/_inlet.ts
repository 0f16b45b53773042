// `sealroute inlet --relay HOST:PORT --to NAME --listen HOST:PORT`: the client side of a
// portal. It opens a secure channel through the relay to the device NAME (as `client`
// does: the link heals, the channel carries on), listens on --listen, and for each
// accepted TCP connection opens a portal to the device's outlet through that channel.
// State role `client` (its identity); `--trust I…` names the devices accepted, else the
// device met under NAME is pinned on first use in `<state>/known_devices.json` (the file
// `client` keeps). Runs until SIGINT/SIGTERM.
import { createTcpInlet } from "../portal/deno.ts";
import { connectToDevice } from "./_client.ts";
import { Output } from "./_output.ts";
import { DevicePins } from "./_pins.ts";
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
  const pins = await DevicePins.open(stateDir, to);
  const trustPolicy = explicitTrust ?? pins.policy();
  const client = await connectToDevice({
    identity,
    relay,
    to,
    timeout,
    link,
    logger,
    ...(trustPolicy ? { trustPolicy } : {}),
  }).catch((error) => {
    throw pins.explain(error, explicitTrust !== undefined);
  });
  let stopping = false;
  try {
    const device = client.channel.remoteIdentifier;
    if (!trustPolicy) await pins.pin(device, out, "inlet");
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
