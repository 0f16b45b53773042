/**
 * The authority node and its operator commands.
 *
 * ```sh
 * sealroute authority [--port 4002] [--state DIR] [--credential-ttl S] [--enroller I…]
 * sealroute authority ticket --attr role=sensor [--ttl S] [--state DIR]
 * sealroute authority members [--state DIR]
 * sealroute authority add --member I… [--attr k=v] [--state DIR]
 * sealroute authority remove --member I… [--state DIR]
 * ```
 *
 * The node listens on TCP, runs a secure channel listener `api` and, behind it only,
 * Ockam's `enrollment_token_acceptor`, `credential_issuer` and `enrollment_token_issuer`.
 * It prints `authority ready identifier=I… tcp=HOST:PORT` and writes its address to
 * `DIR/address`. Its identity and its member table (`DIR/authority.db`, SQLite) are kept in
 * the state directory.
 *
 * The enroller of `authority ticket`, `add` and `remove` is the authority itself: they
 * open the same state directory (the database, which SQLite lets several processes share,
 * and the authority's identity, read only) on the same machine, so whoever may read the
 * state directory may enroll. They work whether or not the node is running; a running
 * node sees their changes at its next request. Remote enrollers (members holding
 * `ockam-role=enroller`, or identifiers given with `--enroller`) ask the node's
 * `enrollment_token_issuer` over a secure channel (`AuthorityClient.createTicket`).
 *
 * @module
 */
import { Authority, startAuthorityService } from "../authority/mod.ts";
import { authorityDb, SqliteMemberStore } from "../authority/deno.ts";
import { SealrouteError } from "../errors.ts";
import { isIdentifier } from "../identity/mod.ts";
import { type Logger, Node } from "../routing/mod.ts";
import { listenTcp } from "../transport/deno.ts";
import {
  aborted,
  CliError,
  consoleLogger,
  defaultStateDir,
  type Flags,
  intFlag,
  parseFlags,
  portFlag,
  stateIdentity,
} from "./_roles_common.ts";
import { openIdentity } from "./_state.ts";
import { Output } from "./_output.ts";

/** Default TCP port of the authority node. */
export const DEFAULT_AUTHORITY_PORT = 4002;

/** Options of {@linkcode startAuthorityNode}. */
export interface AuthorityNodeOptions {
  /** The state directory (identity, `authority.db`, `address`). */
  stateDir: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Lifetime of issued credentials in seconds. */
  credentialTtl?: number;
  /** Default ticket lifetime in seconds. */
  ticketTtl?: number;
  /** Identifiers trusted to create tickets over a channel. */
  enrollers?: readonly string[];
  /** The node's logger. */
  logger?: Logger;
}

/** A running authority node. */
export interface AuthorityNode extends AsyncDisposable {
  /** The authority. */
  readonly authority: Authority;
  /** Its identifier. */
  readonly identifier: string;
  /** Bound TCP address, `host:port`. */
  readonly tcp: string;
  /** Stops the node and closes the database. */
  close(): Promise<void>;
}

/** Starts an authority node on the state directory (locked for this process). */
export async function startAuthorityNode(options: AuthorityNodeOptions): Promise<AuthorityNode> {
  const hostname = options.hostname ?? "127.0.0.1";
  const identity = await stateIdentity(options.stateDir, "authority");
  const store = new SqliteMemberStore(authorityDb(options.stateDir));
  const authority = new Authority({
    identity,
    store,
    ...(options.credentialTtl !== undefined ? { credentialTtl: options.credentialTtl } : {}),
    ...(options.ticketTtl !== undefined ? { ticketTtl: options.ticketTtl } : {}),
    ...(options.enrollers ? { enrollers: options.enrollers } : {}),
  });
  const node = new Node(options.logger ? { logger: options.logger } : {});
  let tcp: ReturnType<typeof listenTcp> | undefined;
  try {
    tcp = listenTcp(node, { hostname, port: options.port ?? 0 });
    const service = await startAuthorityService(node, authority, { consumes: [tcp.flow] });
    const address = `${hostname}:${tcp.port}`;
    await writeAtomically(`${options.stateDir}/address`, `${address}\n`);
    const listener = tcp;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        await service.close();
        await listener.close();
        await node.close();
        await store.close();
      })();
      return closing;
    };
    return {
      authority,
      identifier: identity.identifier,
      tcp: address,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await tcp?.close();
    await node.close();
    await store.close();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        "address-in-use",
        `port ${options.port} on ${hostname} is already in use; pass --port with another port`,
      );
    }
    throw error;
  }
}

/** Writes `text` to `path` through a temporary file and a rename (never half a file). */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    await file.write(new TextEncoder().encode(text));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(temp, path);
}

/** `sealroute authority …`: the node, or one of its operator subcommands. */
export async function authorityCommand(args: readonly string[], stop: AbortSignal): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "ticket") return await ticketCommand(rest);
  // `authority --ticket --attr role=sensor`: the same as `authority ticket --attr role=sensor`.
  if (args.includes("--ticket")) return await ticketCommand(args.filter((a) => a !== "--ticket"));
  if (sub === "members") return await membersCommand(rest);
  if (sub === "add" || sub === "remove") return await memberCommand(sub, rest);
  await serve(args, stop);
}

async function serve(args: readonly string[], stop: AbortSignal): Promise<void> {
  const flags = parseFlags(args, {
    string: ["port", "state", "hostname", "credential-ttl", "ticket-ttl"],
    list: ["enroller"],
    boolean: ["verbose", "json"],
  });
  const out = new Output({ json: flags.boolean.json ?? false });
  const enrollers = flags.list.enroller ?? [];
  for (const e of enrollers) {
    if (!isIdentifier(e)) throw new CliError("usage", `--enroller: not an identifier: '${e}'`);
  }
  await using node = await startAuthorityNode({
    stateDir: flags.string.state ?? defaultStateDir("authority"),
    hostname: flags.string.hostname ?? "127.0.0.1",
    port: portFlag(flags, "port", DEFAULT_AUTHORITY_PORT),
    ...ttlFlag(flags, "credential-ttl", "credentialTtl"),
    ...ttlFlag(flags, "ticket-ttl", "ticketTtl"),
    enrollers,
    logger: consoleLogger("authority", {
      verbose: flags.boolean.verbose ?? false,
      filter: (message, fields) => {
        if (message === "authority enrolled a member") {
          out.event("authority enrolled", { identifier: String(fields.identifier) });
          return true;
        }
        // Members come and go: a closed connection is routine here.
        const reason = fields.reason;
        return message === "connection lost" && !flags.boolean.verbose &&
          reason instanceof SealrouteError && reason.code === "connection-closed";
      },
    }),
  });
  out.event("authority ready", { identifier: node.identifier, tcp: node.tcp });
  await aborted(stop);
  out.event("authority stopping");
}

function ttlFlag<K extends string>(flags: Flags, name: string, key: K): Partial<Record<K, number>> {
  if (flags.string[name] === undefined) return {};
  const value = intFlag(flags, name, 0);
  if (value < 1) throw new CliError("usage", `--${name} expects a positive number of seconds`);
  return { [key]: value } as Partial<Record<K, number>>;
}

// The authority of the state directory, as its own enroller (the node may be running).
async function localAuthority(dir: string): Promise<Authority> {
  const identity = await openIdentity(dir, "authority", false);
  if (!identity) {
    throw new CliError(
      "no-authority",
      `there is no authority in ${dir}; start it once with: sealroute authority --state ${dir}`,
    );
  }
  return new Authority({ identity, store: new SqliteMemberStore(authorityDb(dir)) });
}

function attrFlag(flags: Flags): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of flags.list.attr ?? []) {
    const eq = pair.indexOf("=");
    if (eq < 1) {
      throw new CliError("usage", `--attr expects NAME=VALUE, got '${pair.slice(0, 40)}'`);
    }
    attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return attributes;
}

async function ticketCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, {
    string: ["state", "ttl", "address"],
    list: ["attr"],
    boolean: ["json", "verbose"],
  });
  const attributes = attrFlag(flags);
  const ttl = ttlFlag(flags, "ttl", "ttl");
  const dir = flags.string.state ?? defaultStateDir("authority");
  const authority = await localAuthority(dir);
  try {
    const address = flags.string.address ??
      (await Deno.readTextFile(`${dir}/address`).catch(() => "")).trim();
    const created = await authority.createTicket({
      attributes,
      ...ttl,
      ...(address ? { address } : {}),
    }).catch((error) => {
      if (error instanceof RangeError || error instanceof TypeError) {
        throw new CliError("usage", error.message);
      }
      throw error;
    });
    if (flags.boolean.json) {
      console.log(JSON.stringify({
        event: "ticket",
        ticket: created.ticket,
        expires: new Date(created.expiresAt * 1000).toISOString(),
      }));
    } else {
      console.log(created.ticket);
    }
  } finally {
    await authority.store.close();
  }
}

async function membersCommand(args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, { string: ["state"], boolean: ["json", "verbose"] });
  const authority = await localAuthority(flags.string.state ?? defaultStateDir("authority"));
  try {
    const out = new Output({ json: flags.boolean.json ?? false });
    for (const m of await authority.members()) {
      out.event("member", {
        identifier: m.identifier,
        attributes: Object.entries(m.attributes).map(([k, v]) => `${k}=${v}`).join(","),
        added_by: m.addedBy,
        added: new Date(m.addedAt * 1000).toISOString(),
      });
    }
  } finally {
    await authority.store.close();
  }
}

async function memberCommand(sub: "add" | "remove", args: readonly string[]): Promise<void> {
  const flags = parseFlags(args, {
    string: ["state", "member"],
    list: ["attr"],
    boolean: ["json", "verbose"],
  });
  const member = flags.string.member;
  if (member === undefined || !isIdentifier(member)) {
    throw new CliError("usage", `--member expects an identifier (I + 64 hex)`);
  }
  const attributes = attrFlag(flags);
  const authority = await localAuthority(flags.string.state ?? defaultStateDir("authority"));
  try {
    const out = new Output({ json: flags.boolean.json ?? false });
    if (sub === "add") {
      await authority.addMember(member, attributes);
      out.event("member added", { identifier: member });
    } else if (await authority.removeMember(member)) {
      out.event("member removed", { identifier: member });
    } else {
      throw new CliError("not-member", `${member} is not a member`);
    }
  } finally {
    await authority.store.close();
  }
}
