// `sealroute status --relay HOST:PORT`: who is registered at a relay, asked over a secure
// channel to the relay node's `api` by an identity the relay names with `--operator`.
// State role `operator` (`sealroute identity show --role operator` prints the identifier).
import { createSecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import { Node } from "../routing/mod.ts";
import { CliFailure, CliUsageError } from "./_errors.ts";
import { quoteText } from "./_listen.ts";
import { Output } from "./_output.ts";
import {
  consoleLogger,
  dialRelay,
  intFlag,
  parseFlags,
  parseRelayAddress,
  trustFlag,
} from "./_roles_common.ts";
import { defaultStateDir, openIdentity } from "./_state.ts";

/** One registration as the relay reports it. */
interface Entry {
  name: string;
  identity?: string;
  since?: string;
  /** False while the holder's link is down and the relay keeps its frames. */
  online?: boolean;
  /** Frames the relay keeps for it. */
  queued?: number;
}

/** A field value from the relay for a `k=v` line: as is when plain, else quoted. */
function plain(text: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(text) && !/["\\]/.test(text) ? text : quoteText(text);
}

/** The relay's reply, checked field by field (the relay is a peer: its input is hostile). */
function parseReply(text: string, where: string): Entry[] {
  const bad = (why: string) =>
    new CliFailure("bad-reply", `the relay at ${where} sent a malformed status reply (${why})`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  const names = (value as { names?: unknown } | null)?.names;
  if (!Array.isArray(names)) throw bad("no names list");
  return names.map((entry: unknown): Entry => {
    const { name, identity, since, online, queued } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== "string") throw bad("a name is not a string");
    if (identity !== undefined && typeof identity !== "string") throw bad("identity");
    if (since !== undefined && typeof since !== "string") throw bad("since");
    if (online !== undefined && typeof online !== "boolean") throw bad("online");
    if (queued !== undefined && !(Number.isSafeInteger(queued) && (queued as number) >= 0)) {
      throw bad("queued");
    }
    return {
      name,
      ...(identity === undefined ? {} : { identity }),
      ...(since === undefined ? {} : { since }),
      ...(online === undefined ? {} : { online }),
      ...(queued === undefined ? {} : { queued: queued as number }),
    };
  });
}

/** Runs `status …`. */
export async function statusCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, {
    string: ["relay", "state", "timeout"],
    list: ["relay-id"],
    boolean: ["json", "verbose"],
  });
  if (!flags.string.relay) {
    throw new CliUsageError("usage: status --relay HOST:PORT (see status --help)");
  }
  const relay = parseRelayAddress(flags.string.relay, "ws");
  const timeout = intFlag(flags, "timeout", 5000);
  if (timeout === 0) throw new CliUsageError("--timeout expects milliseconds > 0, got '0'");
  const relayTrust = trustFlag(flags, "relay-id");
  const out = new Output({ json: flags.boolean.json ?? false });
  const dir = flags.string.state ?? defaultStateDir("operator");
  const identity = (await openIdentity(dir, "operator", true))!;
  const id = identity.identifier;
  const where = `${relay.transport}://${relay.hostPort}`;
  const logger = consoleLogger("status", { verbose: flags.boolean.verbose ?? false });
  await using node = new Node({ logger });
  // One request: the link gives up as soon as one exchange would (as `send` dials).
  await using link = await dialRelay(node, relay, { giveUpAfter: timeout });
  const channel = await createSecureChannel(node, link.route.append("api"), {
    identity,
    timeout,
    ...(relayTrust ? { trustPolicy: relayTrust } : {}),
  }).catch((error) => {
    const code = error instanceof SealrouteError ? error.code : "handshake-failed";
    if (code === "untrusted-peer") {
      throw new CliFailure(code, `the relay node at ${where} is not the one --relay-id names`, {
        cause: error,
      });
    }
    throw new CliFailure(
      code,
      `no secure channel to the relay node at ${where} (is this a sealroute relay, and does ` +
        `its --trust admit ${id}? start it with --operator ${id})`,
      { cause: error },
    );
  });
  let text: string;
  try {
    const reply = await channel.request("status", new Uint8Array(), { timeout });
    text = new TextDecoder().decode(reply.payload);
  } catch (error) {
    const code = error instanceof SealrouteError ? error.code : "timeout";
    if (channel.isClosed || code === "closed-by-peer") {
      // The relay's listener refused this identity (its --trust) after the handshake.
      throw new CliFailure(
        code,
        `the relay node at ${where} closed the channel: it does not accept ${id} (start ` +
          `the relay with --operator ${id})`,
        { cause: error },
      );
    }
    throw new CliFailure(
      code,
      `no status answer from the relay at ${where} within ${timeout} ms (does it serve status?)`,
      { cause: error },
    );
  } finally {
    await channel.close();
  }
  if (text.startsWith("error:not-operator")) {
    throw new CliFailure(
      "not-operator",
      `the relay at ${where} does not take status requests from ${id}; start the relay ` +
        `with --operator ${id}`,
    );
  }
  if (text.startsWith("error:")) {
    throw new CliFailure("status-refused", `the relay at ${where} refused: ${quoteText(text)}`);
  }
  const entries = parseReply(text, where);
  for (const e of entries) {
    out.event("registered", {
      name: out.json ? e.name : plain(e.name),
      identity: e.identity === undefined || out.json ? e.identity : plain(e.identity),
      since: e.since === undefined || out.json ? e.since : plain(e.since),
      online: e.online,
      queued: e.queued,
    });
  }
  out.event("status", { count: entries.length });
}
