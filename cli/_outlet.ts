// `sealroute outlet --relay HOST:PORT --name NAME --to HOST:PORT [--allow I…] [--policy EXPR]`:
// a device (same program as `device`: registers NAME at the relay, its link heals, state
// role `device`) that also serves a TCP outlet: each portal a client's inlet opens through
// its end-to-end channel dials `--to` and pipes bytes. `--allow` (identifiers, comma
// separated) and `--policy` (an ABAC expression over the client's identifier and
// credential attributes) say who may open portals; a refused portal is closed at once and
// logged here and at the inlet.
import { abacAccessControl, trustPolicyAccessControl } from "../channel/mod.ts";
import { parsePolicyText, trustIdentifiers } from "../identity/mod.ts";
import type { AccessHook } from "../routing/mod.ts";
import { createTcpOutlet } from "../portal/deno.ts";
import { runDeviceRole } from "./_device_role.ts";
import { CliError, type Flags, intFlag } from "./_roles_common.ts";

/** `--to HOST:PORT`, checked. */
function targetFlag(flags: Flags): string {
  const to = flags.string.to;
  if (!to) {
    throw new CliError("usage", "usage: outlet --relay HOST:PORT --name NAME --to HOST:PORT");
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(to);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new CliError("usage", `--to '${to.slice(0, 64)}': expected HOST:PORT (port 1-65535)`);
  }
  return to;
}

/** The outlet's policy from `--allow` and `--policy` (both must pass), or none. */
function accessFlags(flags: Flags): AccessHook | undefined {
  const hooks: AccessHook[] = [];
  const allow = flags.string.allow?.split(",").map((s) => s.trim()).filter(Boolean);
  if (allow?.length) {
    try {
      hooks.push(trustPolicyAccessControl(trustIdentifiers(...allow)));
    } catch (error) {
      throw new CliError("usage", `--allow: ${(error as Error).message.slice(0, 120)}`);
    }
  }
  const policy = flags.string.policy;
  if (policy !== undefined) {
    try {
      hooks.push(abacAccessControl(parsePolicyText(policy)));
    } catch (error) {
      throw new CliError("usage", `--policy: ${(error as Error).message.slice(0, 120)}`);
    }
  }
  if (hooks.length === 0) return undefined;
  return async (message) => {
    for (const hook of hooks) if (!(await hook(message))) return false;
    return true;
  };
}

/** Runs `sealroute outlet` with command-line `args` until `stop` aborts. */
export function outletMain(args: readonly string[], stop: AbortSignal): Promise<void> {
  return runDeviceRole(args, stop, {
    role: "outlet",
    usage: "usage: outlet --relay HOST:PORT --name NAME --to HOST:PORT (see outlet --help)",
    strings: ["to", "allow", "policy", "idle-timeout"],
    validate: (flags) => {
      targetFlag(flags);
      accessFlags(flags);
      intFlag(flags, "idle-timeout", 0);
    },
    ready: (device, flags, out) => {
      const to = targetFlag(flags);
      const access = accessFlags(flags);
      if (!access) {
        out.warn("outlet", "every client the device accepts may open portals; pass --allow I…");
      }
      const outlet = createTcpOutlet(device.node, {
        to,
        consumes: [device.listener.flow],
        idleTimeout: intFlag(flags, "idle-timeout", 15 * 60_000),
        ...(access ? { access } : {}),
      });
      return { outlet: outlet.address.toString(), to };
    },
  });
}
