/**
 * A device behind NAT: it dials out to the relay, registers a name there, and serves its
 * `echo`, `telemetry` and `commands` workers only through end-to-end secure channels. The
 * program around it (`sealroute device`) is cli/_device_role.ts.
 *
 * The device opens a secure channel to the relay node and registers its name through it, so
 * the name is bound to the device's identity: restarting with the same state takes the name
 * back, another identity is refused (`relay-refused`). Its link to the relay heals: a lost or
 * silent link is dialled again with backoff, and after each reconnect the device opens a new
 * channel to the relay node and registers again ({@linkcode RelaySession}); clients' channels
 * through the relay carry on, their frames now arriving through the new relay channel.
 *
 * Trust. Clients reach the device's secure channel listener `api` through the relay and
 * authenticate end to end; the relay only forwards ciphertext. `clientTrust` names the
 * clients allowed to open a channel (and so to use the services); the services accept only
 * messages that arrived through a channel of the `api` listener, never messages the relay
 * node itself sends over the device's link. `relayTrust` pins the relay node's identity.
 *
 * @module
 */
import { type AccessHook, Node, type Relay } from "../routing/mod.ts";
import {
  type ChannelStateStore,
  createSecureChannelListener,
  type CredentialSource,
  resumeSecureChannels,
  type SecureChannel,
  type SecureChannelListener,
} from "../channel/mod.ts";
import type {
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import type { Logger } from "../routing/mod.ts";
import type { ReconnectingLink } from "../transport/mod.ts";
import { RelaySession } from "./_relay_session.ts";
import {
  type DeliveredMessage,
  type DeliveryReceiver,
  type DeliveryReceiverStateStore,
  startDeliveryReceiver,
} from "../delivery/mod.ts";
import type { SealrouteError } from "../errors.ts";
import { dialRelay, type LinkTuning, type RelayAddress } from "./_roles_common.ts";

/** Options of {@linkcode startDevice}. */
export interface DeviceOptions {
  /** The device's identity. */
  identity: LocalIdentity;
  /** Where the relay node is. */
  relay: RelayAddress;
  /** The relay name to register (`forward_to_<name>` on the relay node). */
  name: string;
  /** Which relay node to trust. Default: any. */
  relayTrust?: TrustPolicy;
  /** Which clients may open channels to `api`. Default: any. */
  clientTrust?: TrustPolicy;
  /** Authorities whose credentials both channels check. */
  authorities?: readonly Identity[];
  /** Credentials the device presents (to the relay and to clients). */
  credentials?: readonly CredentialAndPurposeKey[];
  /** Credentials renewed over time: every channel sends each renewal to its peer by itself. */
  credentialSource?: CredentialSource;
  /** Extra check on `commands` (e.g. an ABAC policy), after "came through `api`". */
  commandsAccess?: AccessHook;
  /** Extra check on `telemetry`, after "came through `api`". */
  telemetryAccess?: AccessHook;
  /** Handshake and registration timeout in ms. Default 5000. */
  timeout?: number;
  /** The node's logger. */
  logger?: Logger;
  /** Called with each client channel accepted. */
  onClient?: (channel: SecureChannel) => void;
  /** How the link to the relay heals (heartbeats, dead-link time, reconnect limits). */
  link?: LinkTuning;
  /** Called after each registration of the name (1 = the first). */
  onRegistered?: (registrations: number) => void;
  /** Called when registering again after a reconnect failed and will be retried. */
  onRetry?: (error: unknown, retryIn: number) => void;
  /**
   * Keeps clients' channels resumable across a crash of this process (their keys and
   * counters in this store) and resumes the ones it holds at start. Default: none.
   */
  resume?: ChannelStateStore;
  /** Called with each message a client's reliable stream delivered (exactly once each). */
  onDelivered?: (message: DeliveredMessage) => void;
  /** The delivery receiver's record, kept across a crash (with `resume`). Default: none. */
  deliveryState?: DeliveryReceiverStateStore;
}

/** The device's reliable-delivery receiver worker (clients' `--delivery` streams). */
export const DELIVERY_WORKER = "delivery";

/** A running device; see {@linkcode startDevice}. */
export interface Device extends AsyncDisposable {
  /** The device's node. */
  readonly node: Node;
  /** The device's identifier. */
  readonly identifier: string;
  /** Its link to the relay node (dialled again whenever it is lost). */
  readonly link: ReconnectingLink;
  /** Its current secure channel to the relay node (renewed after each reconnect). */
  readonly relayChannel: SecureChannel;
  /** The current registration of its name. */
  readonly relay: Relay;
  /** Registrations so far: 1 + one per reconnect. */
  readonly registrations: number;
  /** The `api` listener clients open channels to. */
  readonly listener: SecureChannelListener;
  /** Messages `commands` executed, in order. */
  readonly executed: readonly string[];
  /** The receiver of clients' reliable streams (its `stats` count what it delivered). */
  readonly delivery: DeliveryReceiver;
  /** Clients' channels resumed at start (with `resume`). */
  readonly resumed: number;
  /**
   * Resolves with why the device can no longer be reached: `replaced` (its identity
   * registered elsewhere), `relay-refused` (another identity took the name while the link
   * was down), or the link's `gave-up`.
   */
  readonly lost: Promise<SealrouteError>;
  /** Closes everything. */
  close(): Promise<void>;
}

/** Simulated sensor: a reading with the request's sequence number. */
function reading(seq: number): Uint8Array {
  const t = 21.5 + Math.sin(seq / 10) * 0.5;
  return new TextEncoder().encode(
    JSON.stringify({ seq, temperature: Number(t.toFixed(2)), unit: "C" }),
  );
}

/** The worker option for an optional access hook. */
function access(hook: AccessHook | undefined): { incoming?: AccessHook } {
  return hook ? { incoming: hook } : {};
}

/**
 * Starts a device: dials the relay (a link that heals), opens a channel to its node,
 * registers `name` through it (again after every reconnect), and serves `api` (channel
 * listener), `telemetry` and `commands`.
 */
export async function startDevice(options: DeviceOptions): Promise<Device> {
  const node = new Node(options.logger ? { logger: options.logger } : {});
  const timeout = options.timeout ?? 5000;
  const common = {
    identity: options.identity,
    timeout,
    ...(options.authorities ? { authorities: options.authorities } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.credentialSource ? { credentialSource: options.credentialSource } : {}),
  };
  try {
    const link = await dialRelay(node, options.relay, options.link);
    // Clients' handshakes arrive through the relay, inside the channel to the relay node:
    // the listener hears from that channel (each renewed one), the services only from
    // clients' channels.
    const listener = await createSecureChannelListener(node, "api", {
      ...common,
      ...(options.clientTrust ? { trustPolicy: options.clientTrust } : {}),
      ...(options.onClient ? { onChannel: options.onClient } : {}),
      ...(options.resume ? { resume: options.resume } : {}),
    });
    // Clients' channels from before a crash come back at their old addresses, without a
    // handshake; the registration below makes them reachable through the relay again.
    const resumed = options.resume
      ? (await resumeSecureChannels(node, {
        ...common,
        ...(options.clientTrust ? { trustPolicy: options.clientTrust } : {}),
        store: options.resume,
        listener,
      })).channels.length
      : 0;
    const session = await RelaySession.open({
      node,
      link,
      identity: options.identity,
      name: options.name,
      timeout,
      consumers: () => [
        listener.address,
        ...[...listener.channels].map((c) => c.remoteAddress),
      ],
      ...(options.relayTrust ? { relayTrust: options.relayTrust } : {}),
      ...(options.authorities ? { authorities: options.authorities } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.credentialSource ? { credentialSource: options.credentialSource } : {}),
      ...(options.onRegistered ? { onRegistered: options.onRegistered } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
    const executed: string[] = [];
    const delivery = startDeliveryReceiver(node, DELIVERY_WORKER, {
      consumes: [listener.flow],
      onMessage: (m: DeliveredMessage) => options.onDelivered?.(m),
      ...(options.deliveryState ? { state: options.deliveryState } : {}),
    });
    node.startWorker("echo", (ctx) => ctx.reply(ctx.message.payload), {
      consumes: [listener.flow],
    });
    node.startWorker("telemetry", (ctx) => {
      // A request is `<seq>` then any padding.
      const seq = Number.parseInt(new TextDecoder().decode(ctx.message.payload.subarray(0, 16)));
      return ctx.reply(reading(Number.isSafeInteger(seq) ? seq : 0));
    }, { consumes: [listener.flow], ...access(options.telemetryAccess) });
    node.startWorker("commands", (ctx) => {
      const command = new TextDecoder().decode(ctx.message.payload);
      executed.push(command);
      return ctx.reply(new TextEncoder().encode(`ok: ${command}`));
    }, { consumes: [listener.flow], ...access(options.commandsAccess) });
    const close = async (): Promise<void> => {
      for (const channel of listener.channels) await channel.close();
      await session.close();
      await node.close();
    };
    return {
      node,
      identifier: options.identity.identifier,
      link,
      get relayChannel() {
        return session.channel;
      },
      get relay() {
        return session.relay;
      },
      get registrations() {
        return session.registrations;
      },
      listener,
      executed,
      delivery,
      resumed,
      lost: session.lost,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await node.close();
    throw error;
  }
}
