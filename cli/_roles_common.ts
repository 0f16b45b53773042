// Shared helpers of the example programs (relay.ts, device.ts, client.ts, demo.ts): flag
// parsing, identities kept in a state directory, dialling the relay, a console logger, and
// turning errors into one-line messages. Examples may print; the library never does.
import { parseArgs } from "node:util";
import { SealrouteError } from "../errors.ts";
import {
  loadOrCreateIdentity,
  type LocalIdentity,
  trustIdentifiers,
  type TrustPolicy,
} from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { type Logger, type Node, RELAY_PREFIX } from "../routing/mod.ts";
import { type ReconnectingLink, reconnectWebSocket } from "../transport/mod.ts";
import { reconnectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { CliFailure, errorText, statusOf } from "./_errors.ts";
import { writableDir } from "./_state.ts";

/** The default state directory of a role (never the repository or the current directory). */
export { defaultStateDir } from "./_state.ts";
/** Exit status of an error: 2 for a usage error, 1 for anything else. */
export { statusOf as exitStatus } from "./_errors.ts";

/** An error the programs report as `error [code]: message`, with no stack trace. */
export { CliFailure as CliError, errorText as errorLine } from "./_errors.ts";

/** Flag names by kind; repeated `list` flags (or comma-separated values) accumulate. */
export interface FlagSpec {
  string?: readonly string[];
  list?: readonly string[];
  boolean?: readonly string[];
}

/** Parsed flags: strings, lists and booleans by name. */
export interface Flags {
  string: Record<string, string>;
  list: Record<string, string[]>;
  boolean: Record<string, boolean>;
}

/**
 * Parses `--name value`, `--name=value` and `--flag` with `node:util`'s `parseArgs`; an
 * unknown flag, a missing value or a positional argument is a `usage` error. `--help`
 * and `-h` are always accepted (as the boolean `help`).
 */
export function parseFlags(args: readonly string[], spec: FlagSpec): Flags {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = { help: { type: "boolean", short: "h" } };
  for (const name of spec.string ?? []) options[name] = { type: "string" };
  for (const name of spec.list ?? []) options[name] = { type: "string", multiple: true };
  for (const name of spec.boolean ?? []) options[name] = { type: "boolean" };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    values = parsed.values;
  } catch (error) {
    throw new CliFailure("usage", (error as Error).message.split("\n")[0]!.slice(0, 200));
  }
  const flags: Flags = { string: {}, list: {}, boolean: {} };
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      flags.list[name] = value.flatMap((v) => String(v).split(",")).map((v) => v.trim())
        .filter(Boolean);
    } else if (typeof value === "boolean") {
      flags.boolean[name] = value;
    } else {
      flags.string[name] = value;
    }
  }
  return flags;
}

/** A TCP port flag (0 = any free port, else 1–65535), or `fallback` when absent. */
export function portFlag(flags: Flags, name: string, fallback: number): number {
  const text = flags.string[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d{1,5}$/.test(text) || value > 65535) {
    throw new CliFailure(
      "usage",
      `--${name} ${text.slice(0, 16)}: a port is 0 (any free port) or 1-65535; pick one in range`,
    );
  }
  return value;
}

/** A non-negative integer flag, or `fallback` when absent. */
export function intFlag(flags: Flags, name: string, fallback: number): number {
  const text = flags.string[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CliFailure("usage", `--${name} expects a non-negative integer, got '${text}'`);
  }
  return value;
}

/** `--transport tcp|ws`. */
export function transportFlag(flags: Flags, fallback: "tcp" | "ws"): "tcp" | "ws" {
  const value = flags.string.transport ?? fallback;
  if (value !== "tcp" && value !== "ws") {
    throw new CliFailure("usage", `--transport expects tcp or ws, got '${value}'`);
  }
  return value;
}

/**
 * A trust policy from `--trust I…` identifiers, or `undefined` when none were given.
 * Malformed identifiers are a `usage` error.
 */
export function trustFlag(flags: Flags, name = "trust"): TrustPolicy | undefined {
  const identifiers = flags.list[name];
  if (!identifiers?.length) return undefined;
  try {
    return trustIdentifiers(...identifiers);
  } catch (error) {
    throw new CliFailure("usage", `--${name}: ${(error as Error).message}`);
  }
}

/**
 * The identity named `name` kept in `dir` (keys in `dir/keys`, the record in
 * `dir/identities`), created on first use.
 */
export async function stateIdentity(dir: string, name: string): Promise<LocalIdentity> {
  await writableDir(dir);
  lockStateDir(dir);
  return await loadOrCreateIdentity({
    vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
    store: new FileIdentityStore(`${dir}/identities`),
    name,
  });
}

const held = new Set<string>();

function releaseLocks(): void {
  for (const file of held) {
    try {
      Deno.removeSync(file);
    } catch { /* already gone */ }
  }
  held.clear();
}

function pidAlive(pid: number): boolean {
  if (Deno.build.os !== "linux") return true; // cannot tell: treat the lock as held
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Locks `dir` for this process: `dir/lock` holds the PID, created exclusively. A lock left
 * by a dead process is taken over; one held by a live process is `state-locked`. The lock
 * is removed when the process exits.
 */
export function lockStateDir(dir: string): void {
  const file = `${dir}/lock`;
  if (held.has(file)) return;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const lock = Deno.openSync(file, { write: true, createNew: true });
      lock.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
      lock.close();
      if (held.size === 0) globalThis.addEventListener("unload", releaseLocks);
      held.add(file);
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(Deno.readTextFileSync(file).trim());
      } catch { /* unreadable: treat as stale */ }
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== Deno.pid && pidAlive(pid)) {
        throw new CliFailure(
          "state-locked",
          `the state directory ${dir} is in use by process ${pid}; stop it or pass ` +
            `--state with another directory`,
        );
      }
      Deno.removeSync(file); // stale: its process is gone
    }
  }
  throw new CliFailure("state-locked", `cannot lock the state directory ${dir} (${file})`);
}

/** `I1a2b3c4d…9e8f`: enough of an identifier to tell identities apart in output. */
export function short(identifier: string): string {
  return identifier.length > 14 ? `${identifier.slice(0, 9)}…${identifier.slice(-4)}` : identifier;
}

/**
 * Where the relay is and how to reach it, from `HOST:PORT`, `tcp://HOST:PORT` or
 * `ws://HOST:PORT`; a comma-separated list names a fleet's relays, tried in turn.
 */
export interface RelayAddress {
  transport: "tcp" | "ws";
  /** The first relay. */
  hostPort: string;
  /** The other relays of the list, dialled when the ones before do not answer. */
  more?: readonly string[];
}

/** Parses a relay address (or a comma-separated list); a bare `HOST:PORT` uses `transport`. */
export function parseRelayAddress(text: string, transport: "tcp" | "ws"): RelayAddress {
  const parsed = text.split(",").map((one) => {
    const match = /^(?:(tcp|ws):\/\/)?([^/,]+):(\d{1,5})\/?$/.exec(one.trim());
    const port = Number(match?.[3]);
    if (!match || port < 1 || port > 65535) {
      throw new CliFailure(
        "usage",
        `--relay '${one.slice(0, 40)}': expected HOST:PORT with a port 1-65535 (tcp:// or ws://)`,
      );
    }
    return {
      transport: (match[1] as "tcp" | "ws" | undefined) ?? transport,
      hostPort: `${match[2]}:${port}`,
    };
  });
  const [first, ...rest] = parsed as [RelayAddress, ...RelayAddress[]];
  if (rest.some((r) => r.transport !== first.transport)) {
    throw new CliFailure("usage", `--relay: every relay of a list must use the same transport`);
  }
  return rest.length ? { ...first, more: rest.map((r) => r.hostPort) } : first;
}

/** How a role's link to the relay heals: liveness and reconnect limits. */
export interface LinkTuning {
  /** Heartbeat after this many idle ms (0: none). Default 5000. */
  heartbeatInterval?: number;
  /** The link is dead after this many ms with nothing received. Default 30 000. */
  deadAfter?: number;
  /** Longest pause between reconnect attempts, in ms. Default 5000. */
  maxDelay?: number;
  /** Stop reconnecting after the link was down this long, in ms. Default: never. */
  giveUpAfter?: number;
}

/** `--heartbeat MS`, `--dead-after MS` and (when `giveUp`) `--give-up MS` as a tuning. */
export function linkFlags(flags: Flags, giveUpFallback?: number): LinkTuning {
  const tuning: LinkTuning = {
    heartbeatInterval: intFlag(flags, "heartbeat", 5000),
    deadAfter: intFlag(flags, "dead-after", 30_000),
  };
  const giveUp = flags.string["give-up"] !== undefined
    ? intFlag(flags, "give-up", 0)
    : giveUpFallback;
  if (giveUp !== undefined) tuning.giveUpAfter = giveUp;
  if (
    tuning.deadAfter && tuning.heartbeatInterval && tuning.deadAfter < 2 * tuning.heartbeatInterval
  ) {
    throw new CliFailure(
      "usage",
      `--dead-after ${tuning.deadAfter} must be at least twice --heartbeat ` +
        `${tuning.heartbeatInterval}, or an idle link is declared dead`,
    );
  }
  return tuning;
}

/**
 * Opens a link to the relay node that is dialled again whenever it is lost (exponential
 * backoff with full jitter), with heartbeats and dead-link detection. The first dial's
 * failure is `connect-failed` (or the transport's code) naming the address.
 */
export async function dialRelay(
  node: Node,
  relay: RelayAddress,
  tuning: LinkTuning = {},
): Promise<ReconnectingLink> {
  const options = {
    maxDelay: tuning.maxDelay ?? 5000,
    giveUpAfter: tuning.giveUpAfter ?? Number.POSITIVE_INFINITY,
    expectHeartbeats: true,
    ...(tuning.heartbeatInterval !== undefined
      ? { heartbeatInterval: tuning.heartbeatInterval }
      : {}),
    ...(tuning.deadAfter !== undefined ? { deadAfter: tuning.deadAfter } : {}),
  };
  try {
    const all = [relay.hostPort, ...relay.more ?? []];
    return relay.transport === "tcp"
      ? await reconnectTcp(node, all, options)
      : await reconnectWebSocket(node, all.map((hostPort) => `ws://${hostPort}`), options);
  } catch (error) {
    const code = error instanceof SealrouteError ? error.code : "connect-failed";
    throw new CliFailure(
      code,
      `cannot reach the relay at ${relay.transport}://${relay.hostPort} (is it running, and is ` +
        `this its ${relay.transport} address?)`,
      { cause: error },
    );
  }
}

/**
 * The error a client program reports when its handshake to the device named `to` through
 * the relay failed: the answers known at once get their own codes (`unknown-name`: the relay
 * has no such name; `wrong-protocol`: the port is not the relay's), a silent far end is
 * `handshake-timeout`; anything else passes unchanged.
 */
export function handshakeError(
  error: unknown,
  at: { to: string; relay: RelayAddress; timeout: number },
): unknown {
  if (!(error instanceof SealrouteError)) return error;
  const where = `${at.relay.transport}://${at.relay.hostPort}`;
  if (error.code === "unknown-address" && error.message.includes(`'${RELAY_PREFIX}${at.to}'`)) {
    return new CliFailure(
      "unknown-name",
      `no device is registered as '${at.to}' at the relay ${where}; check the name (the ` +
        `device prints it in its ready line) or start the device first`,
      { cause: error },
    );
  }
  if (error.code === "wrong-protocol") {
    return new CliFailure(
      "wrong-protocol",
      `${where} is not a relay's ${at.relay.transport} port (${error.message})`,
      { cause: error },
    );
  }
  if (error.code === "handshake-timeout") {
    return new CliFailure(
      "handshake-timeout",
      `no answer from '${at.to}' through the relay at ${where} within ${at.timeout} ms: the ` +
        `relay forwarded the handshake but the device did not answer`,
      { cause: error },
    );
  }
  return error;
}

/**
 * A console logger for a node: warnings and errors always (one line each), info and debug
 * with `verbose`. `filter` may print a message its own way and return true to swallow it.
 */
export function consoleLogger(
  role: string,
  options: { verbose?: boolean; filter?: (message: string, fields: Fields) => boolean } = {},
): Logger {
  const line = (level: string, message: string, fields: Fields = {}): void => {
    if (options.filter?.(message, fields)) return;
    if (!options.verbose && (level === "debug" || level === "info")) return;
    const detail = Object.entries(fields).map(([k, v]) => `${k}=${fieldText(v)}`).join(" ");
    console.error(`${role}: ${level}: ${message}${detail ? ` (${detail})` : ""}`);
  };
  return {
    debug: (m, f) => line("debug", m, f),
    info: (m, f) => line("info", m, f),
    warn: (m, f) => line("warn", m, f),
    error: (m, f) => line("error", m, f),
  };
}

type Fields = Record<string, unknown>;

function fieldText(value: unknown): string {
  if (value instanceof SealrouteError) return `${value.code}: ${value.message}`;
  if (value instanceof Error) return value.message;
  return String(value);
}

/**
 * Runs a program's `main`: a thrown error becomes one line on stderr and exit status 1;
 * SIGINT/SIGTERM call `stop` (if given) and exit 0.
 */
export async function runMain(
  main: (stopSignal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  let status = 0;
  try {
    await main(controller.signal);
  } catch (error) {
    console.error(errorText(error));
    status = statusOf(error);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  releaseLocks();
  Deno.exit(status);
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** `ws:127.0.0.1:4001 => forward_to_x => api`: a route with its first hop named by where it leads. */
export function routeText(relay: RelayAddress, route: Iterable<unknown>): string {
  const [, ...rest] = [...route].map(String);
  return [`${relay.transport}:${relay.hostPort}`, ...rest].join(" => ");
}
