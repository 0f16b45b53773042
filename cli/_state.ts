// State directories and identities of the `sealroute` command.
import { loadOrCreateIdentity, type LocalIdentity } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { CliFailure, CliUsageError } from "./_errors.ts";

/** The roles whose state the command knows. */
export const ROLES = [
  "relay",
  "device",
  "client",
  "listen",
  "outlet",
  "operator",
  "authority",
] as const;

/** `$XDG_STATE_HOME/sealroute/<role>` or `~/.local/state/sealroute/<role>`. */
export function defaultStateDir(role: string): string {
  const xdg = Deno.env.get("XDG_STATE_HOME");
  if (xdg) return `${xdg}/sealroute/${role}`;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new CliUsageError("no HOME or XDG_STATE_HOME is set; pass --state DIR");
  return `${home}/.local/state/sealroute/${role}`;
}

/** `--role` checked against {@linkcode ROLES}. */
export function roleFlag(value: string | undefined): string {
  const role = value ?? "client";
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new CliUsageError(`--role expects ${ROLES.join("|")}, got '${role.slice(0, 16)}'`);
  }
  return role;
}

/** Makes sure `dir` exists and is writable; a failure names the directory. */
export async function writableDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.write-probe-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    throw new CliFailure(
      "state-unwritable",
      `cannot write the state directory ${dir} (${(error as Error).name}); pass --state DIR ` +
        `with a writable directory`,
    );
  }
}

/** The identity `name` in `dir`, created on first use unless `create` is false. */
export async function openIdentity(
  dir: string,
  name: string,
  create: boolean,
): Promise<LocalIdentity | undefined> {
  const store = new FileIdentityStore(`${dir}/identities`);
  if (!create) {
    const record = await store.get(name).catch((error: unknown) => {
      throw new CliFailure(
        "corrupt-state",
        `cannot read ${dir}/identities/${name}.identity.json (${
          (error as Error).message
            .slice(0, 80)
        }); fix or delete that file`,
      );
    });
    if (!record) return undefined;
  } else {
    await writableDir(dir);
  }
  try {
    return await loadOrCreateIdentity({
      vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
      store,
      name,
    });
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    throw new CliFailure(
      "corrupt-state",
      `cannot load the identity '${name}' from ${dir} (${
        (error as Error).message
          .slice(0, 80)
      }); fix or delete that directory`,
    );
  }
}
