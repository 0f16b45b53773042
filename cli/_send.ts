// `sealroute send --to NAME --worker W MESSAGE`: one request through the relay.
import { parseArgs } from "node:util";
import { createSecureChannel } from "../channel/mod.ts";
import { trustIdentifiers, type TrustPolicy } from "../identity/mod.ts";
import { Node, RELAY_PREFIX, Route } from "../routing/mod.ts";
import { CliUsageError } from "./_errors.ts";
import { dialRelay, handshakeError, parseRelayAddress } from "./_roles_common.ts";
import { defaultStateDir, openIdentity } from "./_state.ts";

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
  const relay = parseRelayAddress(values.relay ?? "ws://127.0.0.1:4001", transport);
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
  await using link = await dialRelay(node, relay, { giveUpAfter: timeout });
  const route = Route.from([...link.route, `${RELAY_PREFIX}${values.to}`, "api"]);
  const channel = await createSecureChannel(node, route, {
    identity: identity!,
    timeout,
    ...(trustPolicy ? { trustPolicy } : {}),
  }).catch((error) => {
    throw handshakeError(error, { to: values.to!, relay, timeout });
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
