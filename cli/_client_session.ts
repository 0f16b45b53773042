// A client's conversation with a device across failures: requests that time out are sent
// again; a channel the device closed, or one that went silent while the relay is up (the
// device restarted and forgot it), is replaced by a new one to the same device identity.
// Link loss alone never costs a handshake: the link heals and the channel carries on.
import type { SecureChannel } from "../channel/mod.ts";
import { SealrouteError } from "../errors.ts";
import type { Node, RoutedMessage } from "../routing/mod.ts";
import type { ReconnectingLink } from "../transport/mod.ts";
import { CliError } from "./_roles_common.ts";

/** Options of {@linkcode ClientSession}. */
export interface ClientSessionOptions {
  /** The client's node (to hear the relay's refusals of frames). */
  node: Node;
  /** The link to the relay the channel runs over. */
  link: ReconnectingLink;
  /** The open channel to start with. */
  channel: SecureChannel;
  /** Opens a new channel to the same device (same trust policy). */
  open: () => Promise<SecureChannel>;
  /** Per-request timeout in ms. */
  timeout: number;
  /** Fail when nothing was answered for this long, in ms. */
  giveUpAfter: number;
  /** Names used in the error at give-up: the device's relay name and the relay's address. */
  device: string;
  relay: string;
  /** Called with each new channel after the first (`handshakes` counts all). */
  onReopened?: (handshakes: number, channel: SecureChannel) => void;
}

/** How long a device may take to register again after the relay came back, in ms. */
const REGISTRATION_PATIENCE = 5_000;

/** Things that answer requests: a {@linkcode SecureChannel} or a {@linkcode ClientSession}. */
export interface Requester {
  request(
    destination: string,
    payload: Uint8Array,
    options?: { timeout?: number },
  ): Promise<RoutedMessage>;
}

/** Requests with retries over a channel that is replaced when the device lost it. */
export class ClientSession implements Requester {
  readonly #o: ClientSessionOptions;
  #channel: SecureChannel;
  #repliesOnChannel = 0;
  #reopening: Promise<SecureChannel> | undefined;
  #handshakes = 1;
  #retries = 0;
  #lastReply = performance.now();
  #upSince = performance.now();
  #stopListening: () => void;
  #linkClosed = false;
  #refused = 0;
  #absentAt = Number.NEGATIVE_INFINITY;
  #lastRefusal = "";

  constructor(options: ClientSessionOptions) {
    this.#o = options;
    this.#channel = options.channel;
    this.#stopListening = options.link.on((event) => {
      if (event.type === "connected") this.#upSince = performance.now();
    });
    void options.link.closed.then(() => this.#linkClosed = true);
    // The relay refuses frames it cannot keep for an offline device (store-and-forward full).
    const stopHearing = options.node.onUndeliverable(options.link.address, (event) => {
      // The relay says the device is away: not registered (yet: it restarted, or is coming
      // back after the relay did) or offline with its frames held. Silence is then no sign
      // that the device lost the channel.
      if (event.code === "unknown-address" || event.code === "held") {
        this.#absentAt = performance.now();
        return;
      }
      this.#refused++; // a full queue at the relay: frames refused
      this.#lastRefusal = event.code;
    });
    const stopListening = this.#stopListening;
    this.#stopListening = () => {
      stopListening();
      stopHearing();
    };
  }

  /** The current channel. */
  get channel(): SecureChannel {
    return this.#channel;
  }

  /** Channels opened so far (1 + one per replacement). */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Frames the relay refused (e.g. `queue-full` while the device is offline). */
  get refused(): number {
    return this.#refused;
  }

  /** Requests sent again after a timeout or a lost channel. */
  get retries(): number {
    return this.#retries;
  }

  /** Counts a message sent again (by a reliable stream, after its channel was replaced). */
  retried(): void {
    this.#retries++;
  }

  /**
   * Sends `payload` to `destination` on the device and resolves with the reply, retrying
   * until it is answered or nothing was answered for `giveUpAfter` ms.
   */
  async request(destination: string, payload: Uint8Array): Promise<RoutedMessage> {
    for (;;) {
      const channel = await (this.#reopening ?? this.#channel);
      try {
        const reply = await channel.request(destination, payload, { timeout: this.#o.timeout });
        this.#lastReply = performance.now();
        this.#repliesOnChannel++;
        return reply;
      } catch (error) {
        const code = error instanceof SealrouteError ? error.code : "";
        if (code === "closed-by-peer" && this.#repliesOnChannel === 0) throw error; // refused
        this.#giveUpCheck(error);
        this.#retries++;
        // Silent while the link is up: the device lost the channel (it restarted), unless it
        // is still registering again after the relay came back; give it time for that.
        const silent = code === "timeout" && this.silent;
        if (channel.isClosed || silent) this.#reopen(channel);
        else if (code !== "timeout") await pause(100); // e.g. the link's queue is full
      }
    }
  }

  /** The current channel, once a replacement under way is open (rejects once given up). */
  current(): Promise<SecureChannel> {
    return this.#reopening ?? Promise.resolve(this.#channel);
  }

  /**
   * Replaces `stale` (the device lost it: it went silent while the relay is up) with a new
   * channel to the same device; resolves with the current channel (rejects once given up).
   */
  replace(stale: SecureChannel): Promise<SecureChannel> {
    this.#reopen(stale);
    return this.current();
  }

  /** Throws the error naming the party at fault once nothing was answered for too long. */
  checkGiveUp(last: unknown): void {
    this.#giveUpCheck(last);
  }

  /** Counts a delivery (a reliable stream's acknowledgement) as the device answering. */
  answered(): void {
    this.#lastReply = performance.now();
  }

  /** Whether the device should be taken as having lost the channel: silent too long. */
  get silent(): boolean {
    const now = performance.now();
    const patience = Math.max(2 * this.#o.timeout, REGISTRATION_PATIENCE);
    return this.#o.link.connected && now - this.#upSince >= patience &&
      now - this.#lastReply >= patience && now - this.#absentAt >= patience;
  }

  /** Stops watching the link and closes the current channel. */
  async close(): Promise<void> {
    this.#stopListening();
    await this.#reopening?.catch(() => {});
    await this.#channel.close();
  }

  #reopen(stale: SecureChannel): void {
    if (this.#channel !== stale || this.#reopening) return;
    void stale.close().catch(() => {});
    const reopening = (async () => {
      let bound = 200;
      for (;;) {
        try {
          const channel = await this.#o.open();
          this.#channel = channel;
          this.#repliesOnChannel = 0;
          this.#handshakes++;
          this.#o.onReopened?.(this.#handshakes, channel);
          return channel;
        } catch (error) {
          if (error instanceof SealrouteError && error.code === "untrusted-peer") throw error;
          this.#giveUpCheck(error);
          await pause(Math.floor(Math.random() * bound));
          bound = Math.min(bound * 2, 5000);
        }
      }
    })();
    this.#reopening = reopening;
    reopening.then(() => this.#reopening = undefined, () => {});
  }

  /** Throws the error that names the party at fault once nothing was answered too long. */
  #giveUpCheck(last: unknown): void {
    const silentFor = performance.now() - this.#lastReply;
    const { link, device, relay } = this.#o;
    if (silentFor < this.#o.giveUpAfter && !this.#linkClosed) return;
    const seconds = Math.round(silentFor / 1000);
    if (!link.connected) {
      throw new CliError(
        "relay-unreachable",
        `the relay at ${relay} has been unreachable for ${seconds} s; is it running?`,
        { cause: last },
      );
    }
    if (this.#refused > 0) {
      throw new CliError(
        this.#lastRefusal || "queue-full",
        `device '${device}' has not answered for ${seconds} s and the relay at ${relay} refused ` +
          `${this.#refused} frames (${this.#lastRefusal}): the device is offline and the ` +
          `relay keeps no more for it`,
        { cause: last },
      );
    }
    throw new CliError(
      "device-unreachable",
      `device '${device}' has not answered for ${seconds} s although the relay at ${relay} ` +
        `is up: the device is offline or no longer registered there`,
      { cause: last },
    );
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
