// A device's standing at its relay across reconnects: a secure channel to the relay node and
// the relay name registered through it, renewed after every reconnect of the link (a new
// relay process knows neither, and the old one freed the name when the link died). Clients'
// end-to-end channels outlive the renewal: the device's side follows their next frame.
import { createSecureChannel, type CredentialSource, type SecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import type {
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import {
  type Address,
  createRelay,
  type Node,
  type Relay,
  STATIC_RELAY_SERVICE_ADDRESS,
} from "../routing/mod.ts";
import type { ReconnectingLink } from "../transport/mod.ts";
import { Pause } from "../_pause.ts";
import { CliError } from "./_roles_common.ts";

/** Options of {@linkcode RelaySession.open}. */
export interface RelaySessionOptions {
  node: Node;
  link: ReconnectingLink;
  identity: LocalIdentity;
  name: string;
  /** Handshake and registration timeout in ms. */
  timeout: number;
  relayTrust?: TrustPolicy;
  authorities?: readonly Identity[];
  credentials?: readonly CredentialAndPurposeKey[];
  credentialSource?: CredentialSource;
  /**
   * The workers that hear from the relay channel: the device's channel listener and the
   * clients' channels it accepted (their frames arrive through the renewed channel too).
   */
  consumers: () => Iterable<Address>;
  /** Called after each renewal: `registrations` counts them, the first is 1. */
  onRegistered?: (registrations: number, channel: SecureChannel) => void;
  /** Called when a renewal attempt failed and will be retried after `retryIn` ms. */
  onRetry?: (error: unknown, retryIn: number) => void;
}

/** Most time between renewal attempts while the link is up, in ms. */
const MAX_RETRY_DELAY = 5_000;

/** The relay channel and registration of a device, renewed after each reconnect. */
export class RelaySession {
  readonly #o: RelaySessionOptions;
  readonly #lost: Promise<SealrouteError>;
  #fail!: (error: SealrouteError) => void;
  #channel!: SecureChannel;
  #relay!: Relay;
  #generation = 0;
  #registrations = 0;
  #renewing = false;
  #again = false;
  #stopped = false;
  #stopListening: () => void = () => {};
  readonly #pause = new Pause();

  private constructor(options: RelaySessionOptions) {
    this.#o = options;
    this.#lost = new Promise((resolve) => this.#fail = resolve);
  }

  /** Registers once (its failure rejects), then renews after every reconnect. */
  static async open(options: RelaySessionOptions): Promise<RelaySession> {
    const session = new RelaySession(options);
    await session.#register();
    session.#stopListening = options.link.on((event) => {
      if (event.type === "connected") void session.#renew();
    });
    void options.link.closed.then((reason) =>
      session.#fail(
        reason instanceof SealrouteError
          ? reason
          : new SealrouteError("route-lost", "the link to the relay closed", { cause: reason }),
      )
    );
    return session;
  }

  /** The current secure channel to the relay node. */
  get channel(): SecureChannel {
    return this.#channel;
  }

  /** The current registration. */
  get relay(): Relay {
    return this.#relay;
  }

  /** Registrations so far (1 + renewals). */
  get registrations(): number {
    return this.#registrations;
  }

  /**
   * Resolves with why the device can no longer be reached: `replaced` (the same identity
   * registered elsewhere), `relay-refused` (another identity took the name while the link
   * was down), or the link's `gave-up`.
   */
  get lost(): Promise<SealrouteError> {
    return this.#lost;
  }

  /** Stops renewing and closes the relay channel. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#stopListening();
    this.#pause.wake();
    await this.#relay.close();
    await this.#channel.close();
  }

  async #register(): Promise<void> {
    const o = this.#o;
    const generation = ++this.#generation;
    const channel = await createSecureChannel(o.node, o.link.route.append("api"), {
      identity: o.identity,
      timeout: o.timeout,
      ...(o.relayTrust ? { trustPolicy: o.relayTrust } : {}),
      ...(o.authorities ? { authorities: o.authorities } : {}),
      ...(o.credentials ? { credentials: o.credentials } : {}),
      ...(o.credentialSource ? { credentialSource: o.credentialSource } : {}),
    });
    const flows = o.node.flowControls;
    for (const address of o.consumers()) flows.addConsumer(address, channel.flow);
    // The relay node closes the channel at once if it does not trust this device; stop
    // waiting for the registration then instead of timing out.
    const refused = new AbortController();
    void channel.closed.then(() => refused.abort());
    let relay: Relay;
    try {
      relay = await createRelay(o.node, [channel.address], o.name, {
        service: STATIC_RELAY_SERVICE_ADDRESS,
        timeout: o.timeout,
        signal: refused.signal,
        // A takeover notice for an older registration is this device's own renewal.
        onReplaced: (error) => {
          if (generation === this.#generation && !this.#renewing) this.#fail(error);
        },
      });
    } catch (error) {
      const reason = channel.isClosed ? await channel.closed : undefined;
      await channel.close();
      if (reason) {
        throw new CliError(
          reason.code,
          `the relay node closed the channel: it does not accept this device ` +
            `(${o.identity.identifier})`,
          { cause: reason },
        );
      }
      if (error instanceof SealrouteError && error.code === "relay-refused") {
        throw new CliError(
          "relay-refused",
          `the relay refused the name '${o.name}': it is held by another identity ` +
            `(this device is ${o.identity.identifier})`,
          { cause: error },
        );
      }
      throw error;
    }
    const previous = this.#registrations > 0 ? { c: this.#channel, r: this.#relay } : undefined;
    this.#channel = channel;
    this.#relay = relay;
    this.#registrations++;
    o.onRegistered?.(this.#registrations, channel);
    if (previous) {
      for (const address of o.consumers()) flows.removeConsumer(address, previous.c.flow);
      await previous.r.close();
      void previous.c.close();
    }
  }

  /** Registers again over the new connection; retried with backoff while the link is up. */
  async #renew(): Promise<void> {
    if (this.#renewing) return void (this.#again = true);
    this.#renewing = true;
    try {
      let bound = 200;
      while (!this.#stopped && this.#o.link.connected) {
        try {
          await this.#register();
          return;
        } catch (error) {
          if (this.#stopped) return;
          const code = error instanceof SealrouteError ? error.code : "";
          if (code === "relay-refused" || code === "untrusted-peer" || code === "relay-limit") {
            return this.#fail(error as SealrouteError);
          }
          const delay = Math.floor(Math.random() * bound);
          this.#o.onRetry?.(error, delay);
          await this.#pause.sleep(delay);
          bound = Math.min(bound * 2, MAX_RETRY_DELAY);
        }
      }
    } finally {
      this.#renewing = false;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.#renew();
      }
    }
  }
}
