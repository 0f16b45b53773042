/**
 * A client (an operator's tool, an edge function): it dials the relay and opens a mutually
 * authenticated, end-to-end secure channel THROUGH it to a device registered under a name,
 * then reads telemetry and sends a command.
 *
 * ```sh
 * npx -y deno@2.9.6 task sealroute client --relay HOST:PORT --to NAME [--count 100]
 *   [--size 64] [--transport ws|tcp] [--interval MS] [--timeout MS] [--give-up MS]
 *   [--heartbeat MS] [--dead-after MS] [--state DIR] [--trust I…] [--json]
 * ```
 *
 * `--relay` is the relay's address for `--transport` (default `ws`: its `ws=` address;
 * with `tcp` its `tcp=` address; a `tcp://` or `ws://` prefix says it explicitly). The
 * route is `[relay connection, forward_to_NAME, api]`: the relay forwards the handshake to
 * the device's channel listener and sees only ciphertext afterwards.
 *
 * Trust. `--trust I…` names the device identifiers this client accepts. Without it the
 * client trusts the device on first use: it pins the identifier it meets under `NAME` in
 * `STATE/known_devices.json` and refuses a different one later (`untrusted-peer`; delete
 * the entry to re-pin). The device in turn decides whether it accepts this client (its
 * own `--trust`). The identity is kept in `--state` (default: the per-user state directory
 * of the `client` role).
 *
 * Link loss. The link to the relay heals (backoff with jitter, heartbeats, dead-link
 * detection) and the channel carries on without a new handshake; requests that time out
 * are sent again ({@linkcode ClientSession}); a channel the device lost is replaced by one
 * to the same identity.
 *
 * Output: `client connected …` after the handshake, a `progress …` line every second on
 * long runs, `client done …` at the end. Errors (one line, exit status 1):
 * `connect-failed` (relay unreachable), `unknown-name` (no device under that name: the
 * relay says so at once), `wrong-protocol` (not a relay's port), `handshake-timeout` (the
 * device did not answer), `untrusted-peer` (device not trusted here), `closed-by-peer` (the
 * device refused this client), `relay-unreachable` / `device-unreachable` (nothing answered
 * for `--give-up` ms mid-run, naming which of the two is away).
 *
 * @module
 */
import { createSecureChannel, type CredentialSource, type SecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import type {
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import { trustIdentifiers } from "../identity/mod.ts";
import { type Logger, Node, RELAY_PREFIX, Route } from "../routing/mod.ts";
import type { ReconnectingLink } from "../transport/mod.ts";
import { ClientSession, type Requester } from "./_client_session.ts";
import { type DeliveryRunResult, runDelivery } from "./_client_delivery.ts";
import { membership } from "./_membership.ts";
import { DevicePins } from "./_pins.ts";
import { Output } from "./_output.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  dialRelay,
  handshakeError,
  intFlag,
  linkFlags,
  type LinkTuning,
  parseFlags,
  parseRelayAddress,
  type RelayAddress,
  routeText,
  short,
  stateIdentity,
  transportFlag,
  trustFlag,
} from "./_roles_common.ts";

/** Options of {@linkcode connectToDevice}. */
export interface ClientOptions {
  /** The client's identity. */
  identity: LocalIdentity;
  /** Where the relay node is. */
  relay: RelayAddress;
  /** The device's relay name. */
  to: string;
  /** Which devices to trust. Default: any. */
  trustPolicy?: TrustPolicy;
  /** Authorities whose credentials are checked. */
  authorities?: readonly Identity[];
  /** Credentials to present to the device. */
  credentials?: readonly CredentialAndPurposeKey[];
  /** Credentials renewed over time (sent to the device by the channel itself). */
  credentialSource?: CredentialSource;
  /** Extra hops on the relay node before the relay (e.g. an observer). Default none. */
  via?: readonly string[];
  /** Handshake timeout in ms. Default 5000. */
  timeout?: number;
  /** The node's logger. */
  logger?: Logger;
  /** How the link to the relay heals (heartbeats, dead-link time, reconnect limits). */
  link?: LinkTuning;
  /** Fail a request when nothing was answered for this long, in ms. Default 60 000. */
  giveUpAfter?: number;
  /** Called with each replacement channel (`handshakes` counts all). */
  onReopened?: (handshakes: number, channel: SecureChannel) => void;
}

/** An open client; see {@linkcode connectToDevice}. */
export interface Client extends AsyncDisposable {
  /** The client's node. */
  readonly node: Node;
  /** Its link to the relay node (dialled again whenever it is lost). */
  readonly link: ReconnectingLink;
  /** The route the handshake took. */
  readonly route: Route;
  /** The end-to-end channel to the device (the first one; see `session` for the current). */
  readonly channel: SecureChannel;
  /** Requests with retries over a channel replaced when the device lost it. */
  readonly session: ClientSession;
  /** Milliseconds from sending handshake message 1 to the open channel. */
  readonly handshakeMs: number;
  /** Closes the channel (telling the device) and the node. */
  close(): Promise<void>;
}

/**
 * Dials the relay (a link that heals) and opens a secure channel through it to the device
 * named `to`; `session` re-opens it to the same device identity when the device lost it.
 */
export async function connectToDevice(options: ClientOptions): Promise<Client> {
  const node = new Node(options.logger ? { logger: options.logger } : {});
  const timeout = options.timeout ?? 5000;
  try {
    const link = await dialRelay(node, options.relay, options.link);
    const route = Route.from([
      ...link.route,
      ...(options.via ?? []),
      `${RELAY_PREFIX}${options.to}`,
      "api",
    ]);
    const open = (trustPolicy: TrustPolicy | undefined) =>
      createSecureChannel(node, route, {
        identity: options.identity,
        timeout,
        // Through `forward_to_NAME`, not the relay's internals: it outlives a relay restart.
        keepHandshakeRoute: true,
        ...(trustPolicy ? { trustPolicy } : {}),
        ...(options.authorities ? { authorities: options.authorities } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
        ...(options.credentialSource ? { credentialSource: options.credentialSource } : {}),
      });
    const started = performance.now();
    const channel = await open(options.trustPolicy).catch((error) => {
      throw handshakeError(error, { to: options.to, relay: options.relay, timeout });
    });
    const handshakeMs = performance.now() - started;
    const session = new ClientSession({
      node,
      link,
      channel,
      // A replacement channel must reach the same device identity as the first.
      open: () => open(options.trustPolicy ?? trustIdentifiers(channel.remoteIdentifier)),
      timeout,
      giveUpAfter: options.giveUpAfter ?? 60_000,
      device: options.to,
      relay: `${options.relay.transport}://${options.relay.hostPort}`,
      ...(options.onReopened ? { onReopened: options.onReopened } : {}),
    });
    const close = async (): Promise<void> => {
      await session.close();
      await node.close();
    };
    return {
      node,
      link,
      route,
      channel,
      session,
      handshakeMs,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await node.close();
    throw error;
  }
}

/** Options of {@linkcode runTelemetry}. */
export interface TelemetryOptions {
  /** Requests to send. */
  count: number;
  /** Request payload size in bytes (at least the sequence number). */
  size: number;
  /** Requests in flight at once. Default 16 (1 when `interval` is set). */
  window?: number;
  /** Pause between requests in ms (paced mode). Default 0. */
  interval?: number;
  /** Per-request timeout in ms. Default 5000. */
  timeout?: number;
  /** Bytes repeated to fill each request after its sequence number. */
  filler?: Uint8Array;
  /** Updated as requests go out and replies come back (for a progress line). */
  counters?: { sent: number; delivered: number };
}

/** What {@linkcode runTelemetry} measured. */
export interface TelemetryResult {
  /** Replies received. */
  replies: number;
  /** Wall time in ms. */
  elapsedMs: number;
  /** Mean round-trip time in ms. */
  meanRttMs: number;
  /** The last reply's text. */
  last: string;
}

/**
 * Sends `count` telemetry requests (`<seq>` + filler, `size` bytes) through the channel
 * with up to `window` in flight, and waits for every reply. The first failure rejects.
 */
export async function runTelemetry(
  channel: Requester,
  options: TelemetryOptions,
): Promise<TelemetryResult> {
  const { count, size, interval = 0, timeout = 5000 } = options;
  const window = Math.max(1, options.window ?? (interval > 0 ? 1 : 16));
  const filler = options.filler ?? new TextEncoder().encode(" ");
  const started = performance.now();
  let next = 0;
  let replies = 0;
  let rttTotal = 0;
  let last = "";
  let failure: unknown;
  const payload = (seq: number): Uint8Array => {
    const head = new TextEncoder().encode(String(seq));
    const bytes = new Uint8Array(Math.max(size, head.length + 1));
    bytes.set(head);
    bytes[head.length] = 0x0a;
    for (let i = head.length + 1; i < bytes.length; i++) {
      bytes[i] = filler[(i - head.length - 1) % filler.length]!;
    }
    return bytes;
  };
  const lane = async (): Promise<void> => {
    while (next < count && failure === undefined) {
      const seq = next++;
      const sent = performance.now();
      if (options.counters) options.counters.sent++;
      try {
        const reply = await channel.request("telemetry", payload(seq), { timeout });
        rttTotal += performance.now() - sent;
        replies++;
        if (options.counters) options.counters.delivered++;
        last = new TextDecoder().decode(reply.payload);
      } catch (error) {
        failure ??= error;
        return;
      }
      if (interval > 0) await new Promise((r) => setTimeout(r, interval));
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  if (failure !== undefined) throw failure;
  return {
    replies,
    elapsedMs: performance.now() - started,
    meanRttMs: replies ? rttTotal / replies : 0,
    last,
  };
}

/** Sends one command and returns the device's answer. */
export async function sendCommand(
  channel: Requester,
  command: string,
  timeout = 5000,
): Promise<string> {
  const reply = await channel.request("commands", new TextEncoder().encode(command), { timeout });
  return new TextDecoder().decode(reply.payload);
}

/** Runs the program with command-line `args` until `stop` aborts. */
export async function main(args: readonly string[], stop?: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: [
      "relay",
      "to",
      "count",
      "size",
      "transport",
      "interval",
      "timeout",
      "state",
      "heartbeat",
      "dead-after",
      "give-up",
      "enroll",
      "authority",
      "delivery",
    ],
    list: ["trust"],
    boolean: ["verbose", "json"],
  });
  const relayText = flags.string.relay;
  const to = flags.string.to;
  if (!relayText || !to) {
    throw new CliError("usage", "usage: client --relay HOST:PORT --to NAME [--count N]");
  }
  const count = intFlag(flags, "count", 100);
  const size = intFlag(flags, "size", 64);
  const interval = intFlag(flags, "interval", 0);
  const timeout = intFlag(flags, "timeout", 5000);
  const link = linkFlags(flags);
  const giveUpAfter = intFlag(flags, "give-up", 60_000);
  const level = flags.string.delivery ?? "exactly-once";
  if (level !== "none" && level !== "at-least-once" && level !== "exactly-once") {
    throw new CliError(
      "usage",
      `--delivery expects none, at-least-once or exactly-once, got '${level.slice(0, 20)}'`,
    );
  }
  const relayAddress = parseRelayAddress(relayText, transportFlag(flags, "ws"));
  const explicitTrust = trustFlag(flags);
  const out = new Output({ json: flags.boolean.json ?? false });
  const stateDir = flags.string.state ?? defaultStateDir("client");
  const identity = await stateIdentity(stateDir, "client");
  const pins = await DevicePins.open(stateDir, to);
  // Enrolled at an authority: present its credential, and trust only its members.
  using member = await membership(flags, { stateDir, identity, out, role: "client" });
  const trustPolicy = explicitTrust ?? member?.trustPolicy ?? pins.policy();
  const relay = relayAddress;
  out.event("client", { identifier: identity.identifier });

  await using client = await connectToDevice({
    identity,
    relay,
    to,
    timeout,
    link,
    giveUpAfter,
    ...(trustPolicy ? { trustPolicy } : {}),
    ...(member ? { authorities: [member.authority], credentialSource: member.source } : {}),
    logger: consoleLogger("client", { verbose: flags.boolean.verbose ?? false }),
    onReopened: (handshakes) => out.event("client reopened", { device: short(device), handshakes }),
  }).catch((error) => {
    throw pins.explain(error, explicitTrust !== undefined);
  });
  const device = client.channel.remoteIdentifier;
  if (!trustPolicy) await pins.pin(device, out, "client");
  out.event("client connected", {
    device,
    route: routeText(relay, client.route),
    handshake_ms: client.handshakeMs.toFixed(1),
    transport: relay.transport,
  });
  client.link.on((event) => {
    if (event.type === "lost") out.event("client link-lost", { relay: relayText });
    if (event.type === "connected") {
      out.event("client reconnected", { relay: relayText, reconnects: client.link.reconnects });
    }
  });
  const session = client.session;
  const explain = (error: unknown): never => {
    if (error instanceof SealrouteError && error.code === "closed-by-peer") {
      throw new CliError(
        "closed-by-peer",
        `device '${to}' (${short(device)}) closed the channel: it does not accept this client ` +
          `(${identity.identifier})`,
        { cause: error },
      );
    }
    throw error;
  };
  const counters = { sent: 0, delivered: 0, failed: 0 };
  const started = performance.now();
  const progress = (): void => {
    const seconds = (performance.now() - started) / 1000;
    out.progress({
      sent: counters.sent,
      delivered: counters.delivered,
      failed: counters.failed || undefined,
      of: count,
      rate: `${Math.round(counters.delivered / Math.max(seconds, 0.001))}/s`,
      reconnects: client.link.reconnects,
      retries: session.retries,
      handshakes: session.handshakes,
      refused: session.refused || undefined,
    });
  };
  const ticker = setInterval(progress, 1000);
  const totals = () => ({
    reconnects: client.link.reconnects,
    retries: session.retries,
    handshakes: session.handshakes,
  });
  // SIGINT/SIGTERM end a run early with what was delivered so far (exit status 0).
  const stopped = stop ? aborted(stop).then(() => undefined) : new Promise<never>(() => {});
  const stoppedEarly = (): void =>
    out.event("client stopped", {
      sent: counters.sent,
      delivered: counters.delivered,
      failed: counters.failed || undefined,
      of: count,
      ...totals(),
    });
  if (level !== "none") {
    // Reliable stream: a message counts once the device's receiver has it.
    let result: DeliveryRunResult | undefined;
    try {
      const run = runDelivery({
        node: client.node,
        link: client.link,
        session,
        level,
        count,
        size,
        interval,
        counters,
      });
      result = await Promise.race([run, stopped]);
    } finally {
      clearInterval(ticker);
    }
    if (!result) return stoppedEarly();
    out.event("client done", {
      sent: counters.sent,
      delivered: result.delivered,
      failed: result.failed,
      level,
      rate: `${Math.round(result.delivered / (result.elapsedMs / 1000))}/s`,
      ...totals(),
    });
    if (result.error !== undefined) explain(result.error);
    return;
  }
  let outcome: readonly [TelemetryResult, string] | undefined;
  try {
    const run = (async () => {
      const telemetry = await runTelemetry(session, { count, size, interval, timeout, counters });
      return [telemetry, await sendCommand(session, "status", timeout)] as const;
    })();
    outcome = await Promise.race([run, stopped]).catch(explain);
  } finally {
    clearInterval(ticker);
  }
  if (!outcome) return stoppedEarly();
  const [result, answer] = outcome;
  out.event("last reading", { text: result.last });
  out.event("command status", { reply: answer });
  out.event("client done", {
    replies: `${result.replies}/${count}`,
    rate: `${Math.round(result.replies / (result.elapsedMs / 1000))}/s`,
    rtt_ms: result.meanRttMs.toFixed(2),
    ...totals(),
  });
}
