// `sealroute send --to NAME --worker W MESSAGE`: one request through the relay.
import { parseArgs } from "node:util";
import { createSecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import { trustIdentifiers, type TrustPolicy } from "../identity/mod.ts";
import { Node, RELAY_PREFIX, Route } from "../routing/mod.ts";
import { connectWebSocket } from "../transport/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { CliFailure, CliUsageError } from "./_errors.ts";
import { defaultStateDir, openIdentity } from "./_state.ts";

function relayAddress(text: string, fallback: string): { transport: string; hostPort: string } {
  const m = /^(?:(tcp|ws):\/\/)?([^/]+):(\d{1,5})\/?$/.exec(text);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
    throw new CliUsageError(
      `--relay '${text.slice(0, 40)}': expected HOST:PORT with a port 1-65535 (tcp:// or ws://)`,
    );
  }
  return { transport: m[1] ?? fallback, hostPort: `${m[2]}:${m[3]}` };
}

/** Runs `send …`. */
export async function sendCommand(args: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      relay: { type: "string" },
      to: { type: "string" },
      worker: { type: "string" },
      transport: { type: "string" },
      timeout: { type: "string" },
      trust: { type: "string", multiple: true },
      state: { type: "string" },
      json: { type: "boolean" },
      "log-level": { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!values.to || !values.worker || positionals.length !== 1) {
    throw new CliUsageError("usage: send --to NAME --worker WORKER MESSAGE (see send --help)");
  }
  const transport = values.transport ?? "ws";
  if (transport !== "tcp" && transport !== "ws") {
    throw new CliUsageError(`--transport expects tcp or ws, got '${transport.slice(0, 16)}'`);
  }
  const timeout = Number(values.timeout ?? "5000");
  if (!Number.isSafeInteger(timeout) || timeout <= 0) {
    throw new CliUsageError(`--timeout expects milliseconds > 0, got '${values.timeout}'`);
  }
  const relay = relayAddress(values.relay ?? "ws://127.0.0.1:4001", transport);
  let trustPolicy: TrustPolicy | undefined;
  if (values.trust?.length) {
    try {
      trustPolicy = trustIdentifiers(...values.trust.flatMap((t) => t.split(",")));
    } catch (error) {
      throw new CliUsageError(`--trust: ${(error as Error).message.slice(0, 80)}`);
    }
  }
  const identity = await openIdentity(values.state ?? defaultStateDir("client"), "client", true);
  await using node = new Node();
  const where = `${relay.transport}://${relay.hostPort}`;
  const connection =
    await (relay.transport === "tcp"
      ? connectTcp(node, relay.hostPort)
      : connectWebSocket(node, `ws://${relay.hostPort}`)).catch((error) => {
        throw new CliFailure(
          error instanceof SealrouteError ? error.code : "connect-failed",
          `cannot reach the relay at ${where} (is it running, and is this its ` +
            `${relay.transport} address?)`,
        );
      });
  const route = Route.from([...connection.route, `${RELAY_PREFIX}${values.to}`, "api"]);
  const channel = await createSecureChannel(node, route, {
    identity: identity!,
    timeout,
    ...(trustPolicy ? { trustPolicy } : {}),
  }).catch((error) => {
    if (error instanceof SealrouteError && error.code === "handshake-timeout") {
      throw new CliFailure(
        "handshake-timeout",
        `no answer from '${values.to}' through the relay at ${where} within ${timeout} ms: ` +
          `is a device registered under that name?`,
      );
    }
    throw error;
  });
  try {
    const reply = await channel.request(
      values.worker,
      new TextEncoder().encode(positionals[0]!),
      { timeout },
    );
    const text = new TextDecoder().decode(reply.payload);
    console.log(
      values.json
        ? JSON.stringify({ event: "reply", to: values.to, worker: values.worker, reply: text })
        : text,
    );
  } finally {
    await channel.close();
  }
}
