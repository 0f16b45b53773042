/**
 * The `sealroute` command: one entry point for identities and the relay, device and
 * client roles. Run it as `deno task sealroute <command>` or install it with
 * `deno install -A -n sealroute cli/main.ts`.
 *
 * Exit status: 0 ok, 1 runtime failure (one line `error [code]: …` on stderr), 2 usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { HELP } from "./_help.ts";
import { aeadBackend, curvesBackend } from "../vault/mod.ts";
import { useNativeAead, useNativeCurves } from "../vault/deno.ts";
import { identityCommand } from "./_identity.ts";
import { CliUsageError, errorText, statusOf } from "./_errors.ts";
import { sendCommand } from "./_send.ts";
import { main as relayMain } from "./_relay.ts";
import { deviceMain } from "./_device_role.ts";
import { main as clientMain } from "./_client.ts";
import { main as listenMain } from "./_listen.ts";
import { statusCommand } from "./_status.ts";
import { authorityCommand } from "./_authority.ts";
import { enrollCommand } from "./_enroll.ts";
import { outletMain } from "./_outlet.ts";
import { inletMain } from "./_inlet.ts";

/** The version printed by `--version` (deno.json's `version`). */
const VERSION = "0.1.0";

const ROLE_MAINS = {
  relay: relayMain,
  device: deviceMain,
  client: clientMain,
  outlet: outletMain,
  inlet: inletMain,
} as const;

/** `--log-level L` → `--verbose` for info/debug; validated first. */
function roleArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^--log-level(?:=(.*))?$/.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    const level = m[1] ?? args[++i];
    if (level === undefined || !["error", "warn", "info", "debug"].includes(level)) {
      throw new CliUsageError(
        `--log-level expects error|warn|info|debug, got '${String(level).slice(0, 16)}'`,
      );
    }
    if (level === "info" || level === "debug") out.push("--verbose");
  }
  return out;
}

async function withSignals(run: (stop: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await run(controller.signal);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

/**
 * Runs `sealroute` with command-line `args` and resolves to the exit status: 0 ok,
 * 1 runtime failure, 2 usage error. Errors are printed as one line on stderr; it never
 * throws.
 *
 * @example Version and a usage error
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@sealroute/sealroute/cli";
 *
 * assert.equal(await main(["--version"]), 0);
 * assert.equal(await main(["no-such-command"]), 2);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  // Synchronous AES-256-GCM for every channel (OpenSSL through FFI, else node:crypto), and
  // node:crypto's X25519 and Ed25519 for handshakes and identity signatures.
  if (aeadBackend() === "webcrypto") useNativeAead();
  if (curvesBackend() === "webcrypto") useNativeCurves();
  try {
    const [command, ...rest] = args;
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      if (command === "help" && rest[0] && HELP[rest[0]] !== undefined && rest[0] !== "") {
        console.log(HELP[rest[0]]);
      } else {
        console.log(HELP[""]);
      }
      return command === undefined ? 2 : 0;
    }
    if (command === "--version" || command === "-V") {
      console.log(`sealroute ${VERSION} (aead ${aeadBackend()}, curves ${curvesBackend()})`);
      return 0;
    }
    if (command.startsWith("-")) {
      parseArgs({ args: [command], options: {}, strict: true });
    }
    if (HELP[command] === undefined || command === "") {
      throw new CliUsageError(`unknown command '${command.slice(0, 32)}'; see sealroute --help`);
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(HELP[command]);
      return 0;
    }
    switch (command) {
      case "identity":
        await identityCommand(rest);
        return 0;
      case "send":
        await sendCommand(rest);
        return 0;
      case "status":
        await statusCommand(roleArgs(rest));
        return 0;
      case "enroll":
        await enrollCommand(roleArgs(rest));
        return 0;
      case "authority": {
        const passed = roleArgs(rest);
        await withSignals((stop) => authorityCommand(passed, stop));
        return 0;
      }
      case "listen": {
        const passed = roleArgs(rest);
        await withSignals((stop) => listenMain(passed, stop));
        return 0;
      }
      case "relay":
      case "device":
      case "client":
      case "outlet":
      case "inlet": {
        const passed = roleArgs(rest);
        const run = ROLE_MAINS[command];
        await withSignals((stop) => run(passed, stop));
        return 0;
      }
    }
    return 0;
  } catch (error) {
    const usage = error instanceof TypeError && "code" in error &&
      String((error as { code: unknown }).code).startsWith("ERR_PARSE_ARGS");
    const e = usage ? new CliUsageError((error as Error).message.split("\n")[0]!) : error;
    console.error(errorText(e));
    return statusOf(e);
  }
}
