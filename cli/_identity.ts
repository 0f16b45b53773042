// `sealroute identity create|show|list`.
import { parseArgs } from "node:util";
import { CliFailure, CliUsageError } from "./_errors.ts";
import { defaultStateDir, openIdentity, roleFlag } from "./_state.ts";

/** Runs `identity <sub> …`. */
export async function identityCommand(args: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      role: { type: "string" },
      state: { type: "string" },
      json: { type: "boolean" },
      "log-level": { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...extra] = positionals;
  if (sub !== "create" && sub !== "show" && sub !== "list") {
    throw new CliUsageError(
      `identity expects create, show or list, got '${String(sub ?? "").slice(0, 16)}'`,
    );
  }
  if (extra.length) throw new CliUsageError(`unexpected argument '${extra[0]!.slice(0, 32)}'`);
  const role = roleFlag(values.role);
  const dir = values.state ?? defaultStateDir(role);
  const print = (fields: Record<string, string>) =>
    console.log(
      values.json
        ? JSON.stringify(fields)
        : Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" "),
    );
  if (sub === "list") {
    let names: string[] = [];
    try {
      for await (const entry of Deno.readDir(`${dir}/identities`)) {
        if (entry.isFile && entry.name.endsWith(".identity.json")) {
          names.push(entry.name.slice(0, -".identity.json".length));
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new CliFailure("state-unreadable", `cannot read ${dir}/identities`);
      }
    }
    names = names.sort();
    for (const name of names) {
      const identity = await openIdentity(dir, name, false);
      if (identity) print({ name, identifier: identity.identifier, state: dir });
    }
    return;
  }
  const identity = await openIdentity(dir, role, sub === "create");
  if (!identity) {
    throw new CliFailure(
      "no-identity",
      `no identity '${role}' in ${dir}; create it with: sealroute identity create --role ${role}`,
    );
  }
  print({ name: role, identifier: identity.identifier, state: dir });
}
