// A relay node, a device with an outlet and a client with an inlet, in one process over
// real loopback TCP: the client's end-to-end channel runs through the relay to the device,
// and the relay carries only ciphertext. Used by tests/portal_test.ts and the benchmark.
import { trustPolicyAccessControl } from "../channel/mod.ts";
import { type Client, connectToDevice } from "../cli/_client.ts";
import { type Device, startDevice } from "../cli/_device.ts";
import { type RelayNode, startRelayNode } from "../cli/_relay.ts";
import { createIdentity, type LocalIdentity, type TrustPolicy } from "../identity/mod.ts";
import type { Logger } from "../routing/mod.ts";
import type { Connection } from "../transport/mod.ts";
import { Vault } from "../vault/mod.ts";
import type { Outlet } from "../portal/mod.ts";
import { createTcpInlet, createTcpOutlet, type TcpInlet } from "../portal/deno.ts";

/** Log lines kept by a {@linkcode recordingLogger}. */
export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A logger that keeps every line (warn and above also with their fields). */
export function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    if (level !== "debug") lines.push({ level, message, fields });
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** What {@linkcode portalStack} builds. */
export interface PortalStack extends AsyncDisposable {
  relay: RelayNode;
  device: Device;
  client: Client;
  outlet: Outlet;
  inlet: TcpInlet;
  clientIdentity: LocalIdentity;
  deviceLogs: LogLine[];
  clientLogs: LogLine[];
  /** The connections the relay node accepted (the device's and the client's links). */
  relayConnections: Connection[];
  /** Payloads the recording hop on the relay saw. */
  seen: { frames: number; bytes: number; plaintext: number };
}

/** Options of {@linkcode portalStack}. */
export interface StackOptions {
  /** The outlet's target, `host:port`. */
  to: string;
  /** Who may open portals (an outlet policy). */
  policy?: TrustPolicy;
  /** Byte strings the recording hop looks for in every payload it forwards. */
  markers?: readonly Uint8Array[];
  idleTimeout?: number;
  window?: number;
}

/** Whether `needle` occurs in `hay`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  outer: for (let i = hay.indexOf(first!); i >= 0 && i <= hay.length - needle.length;) {
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) {
        i = hay.indexOf(first!, i + 1);
        continue outer;
      }
    }
    return true;
  }
  return false;
}

/** Starts the stack: relay, device + outlet, client + inlet (through a recording hop). */
export async function portalStack(options: StackOptions): Promise<PortalStack> {
  const deviceLogs: LogLine[] = [];
  const clientLogs: LogLine[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const relayConnections: Connection[] = [];
    const relay = await startRelayNode({
      identity: await createIdentity(new Vault()),
      onConnection: (c) => relayConnections.push(c),
    });
    cleanups.push(() => relay.close());
    const seen = { frames: 0, bytes: 0, plaintext: 0 };
    const markers = options.markers ?? [];
    relay.node.startWorker("record", async (ctx) => {
      const m = ctx.message;
      seen.frames++;
      seen.bytes += m.payload.length;
      if (markers.some((marker) => contains(m.payload, marker))) seen.plaintext++;
      await ctx.forward(
        m.with({
          onwardRoute: m.onwardRoute.popFront(),
          returnRoute: m.returnRoute.prepend(ctx.address),
        }),
      ).catch(() => {});
    }, { consumes: relay.flows });
    const device = await startDevice({
      identity: await createIdentity(new Vault()),
      relay: { transport: "tcp", hostPort: relay.tcp },
      name: "web",
      logger: recordingLogger(deviceLogs),
    });
    cleanups.push(() => device.close());
    const tuning = {
      ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
      ...(options.window === undefined ? {} : { window: options.window }),
    };
    const outlet = createTcpOutlet(device.node, {
      to: options.to,
      consumes: [device.listener.flow],
      ...(options.policy ? { access: trustPolicyAccessControl(options.policy) } : {}),
      ...tuning,
    });
    const clientIdentity = await createIdentity(new Vault());
    const client = await connectToDevice({
      identity: clientIdentity,
      relay: { transport: "tcp", hostPort: relay.tcp },
      to: "web",
      via: ["record"],
      logger: recordingLogger(clientLogs),
    });
    cleanups.push(() => client.close());
    const inlet = createTcpInlet(client.node, {
      route: () => [client.session.channel.address, "outlet"],
      ...tuning,
    });
    cleanups.push(() => inlet.close());
    return {
      relay,
      device,
      client,
      outlet,
      inlet,
      clientIdentity,
      deviceLogs,
      clientLogs,
      seen,
      relayConnections,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
