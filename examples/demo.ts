/**
 * The main job, in one process: a device behind a relay, an operator reaching it end to
 * end through the relay, and proof that the relay only ever saw ciphertext.
 *
 * ```sh
 * npx -y deno@2.9.6 task demo [--count 200] [--size 64] [--transport ws|tcp] [--state DIR]
 * ```
 *
 * 1. An authority issues credentials: the relay node `role=relay`, the device
 *    `role=device`, the client `role=operator`, a second client `role=viewer`.
 * 2. The relay node listens on TCP and WebSocket (ephemeral loopback ports) and runs the
 *    relay service; its channel listener accepts only `role=device`.
 * 3. The device dials out over TCP, opens a secure channel to the relay node (trusting
 *    only `role=relay`) and registers a relay name through it. It serves a channel
 *    listener `api` (only `role=operator`), `telemetry`, and `commands` (ABAC
 *    `(= subject.role "operator")`).
 * 4. The client dials the relay node (WebSocket by default) and opens a secure channel
 *    through the relay to the device's `api`, then sends `--count` telemetry requests of
 *    `--size` bytes and a few commands. An `audit` worker on the relay node sits on the
 *    route and records what passes: counts and sizes, and whether any plaintext appears.
 * 5. Refusals: the viewer cannot open a channel to the device, and the relay node cannot
 *    call `commands` over the device's own link to it.
 *
 * `--state DIR` keeps the identities (FileKeyStore + FileIdentityStore) across runs; by
 * default they live in a temporary directory removed at exit.
 *
 * @module
 */
import { abacAccessControl } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import {
  type CredentialAndPurposeKey,
  issueCredential,
  type LocalIdentity,
  trustCredentials,
  type TrustPolicy,
} from "../identity/mod.ts";
import { type Address, type Logger, RELAY_PREFIX, silentLogger } from "../routing/mod.ts";
import {
  CliError,
  errorLine,
  intFlag,
  parseFlags,
  routeText,
  short,
  stateIdentity,
  transportFlag,
} from "./_cli.ts";
import { connectToDevice, runTelemetry, sendCommand } from "./client.ts";
import { startDevice } from "./device.ts";
import { startRelayNode } from "./relay.ts";

const FILLER = new TextEncoder().encode("PLAINTEXT-SECRET ");
/** Byte strings that would betray plaintext if the relay node saw them. */
const MARKERS = ["PLAINTEXT-SECRET", "telemetry", "commands", "temperature", "reboot", "operator"]
  .map((m) => new TextEncoder().encode(m));
const COMMANDS = ["led on", "sample-rate 10s", "reboot"];
const NAME = "sensor-1";

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

interface Tally {
  frames: number;
  bytes: number;
  max: number;
  bySize: Map<number, number>;
}

function tally(): Tally {
  return { frames: 0, bytes: 0, max: 0, bySize: new Map() };
}

function add(t: Tally, size: number): void {
  t.frames++;
  t.bytes += size;
  t.max = Math.max(t.max, size);
  t.bySize.set(size, (t.bySize.get(size) ?? 0) + 1);
}

/** The most frequent frame size (the steady-state message frame). */
function typical(t: Tally): number {
  let best = 0;
  let seen = 0;
  for (const [size, n] of t.bySize) if (n > seen) [best, seen] = [size, n];
  return best;
}

function sizes(t: Tally): string {
  return t.frames === 0
    ? "none"
    : `${t.frames} frames, ${t.bytes} bytes; typical frame ${
      typical(t)
    } bytes, largest ${t.max} (handshake)`;
}

/**
 * A logger that counts refusals per worker: by access control, and by flow control (a
 * message on a flow the worker does not consume, counted under the onward route's first hop).
 */
function refusalCounter(): { logger: Logger; refused: Map<string, number> } {
  const refused = new Map<string, number>();
  const count = (worker: string) => refused.set(worker, (refused.get(worker) ?? 0) + 1);
  const logger: Logger = {
    ...silentLogger,
    warn: (message, fields) => {
      if (message === "incoming access control refused a message") count(String(fields?.worker));
      if (message === "flow control refused a message") {
        count(String(fields?.onwardRoute).split(" => ")[0]!);
      }
    },
  };
  return { logger, refused };
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args, {
    string: ["count", "size", "transport", "state"],
  });
  const count = intFlag(flags, "count", 200);
  const size = intFlag(flags, "size", 64);
  const transport = transportFlag(flags, "ws");
  const temporary = flags.string.state === undefined;
  const stateDir = flags.string.state ?? await Deno.makeTempDir({ prefix: "sealroute-demo-" });
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await run({ count, size, transport, stateDir, temporary, cleanups });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    if (temporary) await Deno.remove(stateDir, { recursive: true });
  }
}

async function run(opts: {
  count: number;
  size: number;
  transport: "tcp" | "ws";
  stateDir: string;
  temporary: boolean;
  cleanups: (() => Promise<void>)[];
}): Promise<void> {
  const { count, size, transport, stateDir, cleanups } = opts;
  const t0 = performance.now();
  console.log("Sealroute demo: a device behind a relay, reached end to end by an operator\n");
  console.log(
    `state      ${stateDir}${opts.temporary ? " (temporary; --state DIR keeps it)" : ""}`,
  );

  // 1. Identities and credentials.
  const [authority, relayId, deviceId, clientId, viewerId] = await Promise.all(
    ["authority", "relay", "device", "client", "viewer"].map((n) => stateIdentity(stateDir, n)),
  ) as [LocalIdentity, LocalIdentity, LocalIdentity, LocalIdentity, LocalIdentity];
  const issue = async (subject: LocalIdentity, r: string): Promise<CredentialAndPurposeKey[]> => [
    await issueCredential({
      issuer: authority,
      subject: subject.identity,
      attributes: { role: r },
      ttl: 3600,
    }),
  ];
  const creds = {
    relay: await issue(relayId, "relay"),
    device: await issue(deviceId, "device"),
    client: await issue(clientId, "operator"),
    viewer: await issue(viewerId, "viewer"),
  };
  const authorities = [authority.identity];
  const holding = (r: string): TrustPolicy =>
    trustCredentials({ authorities: [authority.identifier], attributes: { role: r } });
  console.log("\nidentities (credentials issued by the authority)");
  console.log(`  authority  ${short(authority.identifier)}`);
  console.log(`  relay      ${short(relayId.identifier)}  role=relay`);
  console.log(`  device     ${short(deviceId.identifier)}  role=device`);
  console.log(`  client     ${short(clientId.identifier)}  role=operator`);
  console.log(`  viewer     ${short(viewerId.identifier)}  role=viewer`);
  console.log("\nwho trusts whom");
  console.log(`  relay node accepts channels from   role=device   (name registration)`);
  console.log(`  device     trusts the relay node   role=relay`);
  console.log(`  device     accepts channels from   role=operator (listener "api")`);
  console.log(`  device     runs "commands" for     (= subject.role "operator")`);
  console.log(`  client     trusts the device       role=device`);

  // 2. The relay node, with an audit hop that records what passes through it.
  const relay = await startRelayNode({
    identity: relayId,
    trustPolicy: holding("device"),
    authorities,
    credentials: creds.relay,
  });
  cleanups.push(() => relay.close());
  const seen = { toDevice: tally(), toClient: tally(), plaintext: 0 };
  const isTowardsDevice = (next: Address | undefined): boolean => {
    if (!next) return false;
    if (next.valueText.startsWith(RELAY_PREFIX)) return true;
    for (const c of relay.listener.channels) if (c.address.equals(next)) return true;
    return false;
  };
  relay.node.startWorker("audit", async (ctx) => {
    const m = ctx.message;
    const onward = m.onwardRoute.popFront();
    add(isTowardsDevice(onward.next) ? seen.toDevice : seen.toClient, m.payload.length);
    if (MARKERS.some((marker) => contains(m.payload, marker))) seen.plaintext++;
    // Put itself on the return route too, so the replies pass here as well.
    await ctx.forward(
      m.with({ onwardRoute: onward, returnRoute: m.returnRoute.prepend(ctx.address) }),
    )
      .catch(() => {});
  }, { consumes: relay.flows });
  console.log(`\nrelay node listening   tcp ${relay.tcp}   ws ${relay.ws}`);

  // 3. The device dials out and registers its name through a secure channel.
  const { logger: deviceLogger, refused } = refusalCounter();
  let viewerRefusal: SealrouteError | undefined;
  let t = performance.now();
  const device = await startDevice({
    identity: deviceId,
    relay: { transport: "tcp", hostPort: relay.tcp },
    name: NAME,
    relayTrust: holding("relay"),
    clientTrust: holding("operator"),
    authorities,
    credentials: creds.device,
    commandsAccess: abacAccessControl('(= subject.role "operator")'),
    logger: deviceLogger,
  });
  cleanups.push(() => device.close());
  const deviceSetupMs = performance.now() - t;
  console.log(
    `device  tcp to relay, channel to relay node ${
      short(device.relayChannel.remoteIdentifier)
    }, registered '${device.relay.address}' (${deviceSetupMs.toFixed(1)} ms)`,
  );
  console.log(`        relays held by the relay service: ${relay.relays.relays().join(", ")}`);

  // 4. The client opens a channel through the relay to the device.
  const relayAddress = { transport, hostPort: transport === "ws" ? relay.ws : relay.tcp };
  const client = await connectToDevice({
    identity: clientId,
    relay: relayAddress,
    to: NAME,
    via: ["audit"],
    trustPolicy: holding("device"),
    authorities,
    credentials: creds.client,
  });
  cleanups.push(() => client.close());
  const channel = client.channel;
  const route = routeText(relayAddress, client.route);
  const peerRole = new TextDecoder().decode(channel.remoteAttributes.role);
  console.log(`client  ${transport} to relay, route ${route}`);
  console.log(
    `        secure channel to device ${short(channel.remoteIdentifier)} (role=${peerRole}) ` +
      `through the relay: handshake ${client.handshakeMs.toFixed(1)} ms`,
  );

  t = performance.now();
  const result = await runTelemetry(channel, { count, size, filler: FILLER, window: 16 });
  const rate = result.replies / (result.elapsedMs / 1000);
  console.log(
    `        telemetry: ${result.replies}/${count} replies to ${size}-byte requests in ` +
      `${result.elapsedMs.toFixed(0)} ms (${Math.round(rate)} msg/s, mean round trip ` +
      `${result.meanRttMs.toFixed(2)} ms, 16 in flight)`,
  );
  console.log(`        last reading ${result.last}`);
  const answers: string[] = [];
  for (const command of COMMANDS) {
    const answer = await sendCommand(channel, command);
    answers.push(answer);
    console.log(`        command '${command}' -> '${answer}'`);
  }
  const commandsOk = answers.filter((a, i) => a === `ok: ${COMMANDS[i]}`).length;

  // 5. Refusals.
  console.log("\nrefusals");
  let refusals = 0;
  try {
    const viewer = await connectToDevice({
      identity: viewerId,
      relay: relayAddress,
      to: NAME,
      trustPolicy: holding("device"),
      authorities,
      credentials: creds.viewer,
    });
    cleanups.push(() => viewer.close());
    await sendCommand(viewer.channel, "reboot", 2000);
  } catch (error) {
    if (error instanceof SealrouteError) viewerRefusal = error;
  }
  if (viewerRefusal?.code === "closed-by-peer") refusals++;
  console.log(
    `  viewer (role=viewer) opening a channel to the device: ${
      viewerRefusal ? `refused [${viewerRefusal.code}]` : "ACCEPTED (unexpected)"
    }`,
  );
  // The relay node holds a channel to the device (the device's own link); it is not a client.
  const link = [...relay.listener.channels].find((c) => c.remoteIdentifier === device.identifier);
  const direct = link
    ? await link.request("commands", new TextEncoder().encode("reboot"), { timeout: 300 })
      .then(() => "ANSWERED (unexpected)", (e: SealrouteError) => `no answer [${e.code}]`)
    : "no link";
  const refusedAtDevice = refused.get("commands") ?? 0;
  if (refusedAtDevice > 0) refusals++;
  console.log(
    `  relay node sending 'reboot' to "commands" over the device's link: ${direct}; the ` +
      `device refused it (${refusedAtDevice} refusal logged for "commands": its link's ` +
      `channel is not a flow "commands" consumes)`,
  );

  // What the relay saw.
  console.log("\nwhat the relay node saw (audit hop on the route)");
  console.log(`  client -> device: ${sizes(seen.toDevice)}`);
  console.log(`  device -> client: ${sizes(seen.toClient)}`);
  console.log(
    `  plaintext markers (${MARKERS.length} strings, e.g. the request filler, worker names, ` +
      `"temperature") found in ${seen.plaintext} frames`,
  );
  console.log(
    `  a ${size}-byte request travels as a ${
      typical(seen.toDevice)
    }-byte frame: routes and payload ` +
      `CBOR-encoded, sealed with AES-256-GCM (8-byte nonce, 16-byte tag)`,
  );

  const frames = seen.toDevice.frames + seen.toClient.frames;
  const ok = result.replies === count && commandsOk === COMMANDS.length && refusals === 2 &&
    seen.plaintext === 0 && frames > 0;
  console.log("");
  console.log(`summary: handshake ${client.handshakeMs.toFixed(1)} ms through the relay`);
  console.log(
    `summary: telemetry ${result.replies}/${count} replies, ${Math.round(rate)} msg/s; ` +
      `commands ${commandsOk}/${COMMANDS.length} executed`,
  );
  console.log(`summary: relay saw ${frames} frames, ${seen.plaintext} with plaintext`);
  console.log(`summary: refusals ${refusals}/2 as expected (viewer channel, relay-node command)`);
  console.log(
    `summary: ${ok ? "ok" : "FAILED"} in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  if (!ok) throw new CliError("demo-failed", "the demo did not get the results it expected");
}

try {
  await main();
} catch (error) {
  console.error(errorLine(error));
  Deno.exit(1);
}
