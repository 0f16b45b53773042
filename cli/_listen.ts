// `sealroute listen --relay HOST:PORT --name NAME [--worker W]`: the counterpart of `send`.
// It registers NAME at the relay as `device` does (same program, same errors), serves
// the worker W (default `inbox`) to clients' end-to-end channels only, prints each message
// as one event line and answers `ok`. State role `listen` (its own directory and identity,
// so a `device` and a `listen` can run side by side). Runs until SIGINT/SIGTERM.
import { LOCAL_INFO_IDENTIFIER, type WorkerHandler } from "../routing/mod.ts";
import type { Device } from "./_device.ts";
import { runDeviceRole } from "./_device_role.ts";
import type { Output } from "./_output.ts";
import { CliError } from "./_roles_common.ts";

/** Workers `startDevice` runs itself (and the channel listener): not for `--worker`. */
const TAKEN = ["api", "echo", "telemetry", "commands"];
/** Characters of a message shown in a text event line (JSON lines carry all of it). */
const SHOWN = 120;

/**
 * A message's text for a `k=v` line: quoted, `\` `"` and control/format characters
 * (newlines, bidi overrides, …) escaped, cut after {@linkcode SHOWN} characters.
 */
export function quoteText(text: string, max = SHOWN): string {
  const points = [...text.slice(0, max * 2 + 2)];
  const shown = points.length > max ? `${points.slice(0, max).join("")}…` : points.join("");
  const escaped = shown.replace(/[\\"]/g, "\\$&").replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\t"
        ? "\\t"
        : c === "\r"
        ? "\\r"
        : `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
  return `"${escaped}"`;
}

/** Runs `listen …` with command-line `args` until `stop` aborts. */
export function main(args: readonly string[], stop: AbortSignal): Promise<void> {
  return runDeviceRole(args, stop, {
    role: "listen",
    usage: "usage: listen --relay HOST:PORT --name NAME (see listen --help)",
    strings: ["worker"],
    validate: (flags) => {
      const worker = flags.string.worker ?? "inbox";
      if (!/^[0-9A-Za-z_.-]{1,64}$/.test(worker) || TAKEN.includes(worker)) {
        throw new CliError(
          "usage",
          `--worker '${worker.slice(0, 64)}': letters, digits, '.', '_' or '-', and not one of ` +
            `${TAKEN.join(", ")} (the device serves those)`,
        );
      }
    },
    ready: (device, flags, out) => {
      const worker = flags.string.worker ?? "inbox";
      serveInbox(device, worker, out);
      return { worker };
    },
  });
}

/** Prints each message to `worker` (from clients' channels only) and answers `ok`. */
function serveInbox(device: Device, worker: string, out: Output): void {
  const ok = new TextEncoder().encode("ok");
  const decoder = new TextDecoder();
  const handler: WorkerHandler = async (ctx) => {
    const from = ctx.message.localInfo[LOCAL_INFO_IDENTIFIER];
    const text = decoder.decode(ctx.message.payload);
    out.event("message", {
      from: typeof from === "string" ? from : "unknown",
      worker,
      bytes: ctx.message.payload.length,
      text: out.json ? text : quoteText(text),
    });
    await ctx.reply(ok).catch((error) => {
      out.warn("listen", `reply not delivered (${(error as Error).message.slice(0, 80)})`);
    });
  };
  // Only messages decrypted by a client's end-to-end channel (the `api` listener's flow)
  // reach this worker; their local info, set by that channel, names the client.
  try {
    device.node.startWorker(worker, handler, { consumes: [device.listener.flow] });
  } catch (error) {
    throw new CliError(
      "worker-in-use",
      `the device already serves a worker '${worker}'; pick another --worker`,
      { cause: error },
    );
  }
}
