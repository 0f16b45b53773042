/**
 * An open secure channel: the encryptor worker local code sends plaintext to, and the
 * decryptor worker the peer's frames arrive at (Ockam's `encryptor` and
 * `decryptor_remote` addresses). Created by {@linkcode createSecureChannel} or accepted by
 * a listener.
 *
 * @module
 */
import { ChannelError, SealrouteError } from "../errors.ts";
import { type CredentialAndPurposeKey, encodeRefreshCredentials } from "../identity/mod.ts";
import { Address } from "../routing/address.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { Node } from "../routing/node.ts";
import type { WorkerContext } from "../routing/node.ts";
import type { RequestOptions } from "../routing/node_options.ts";
import { Route, type RouteLike } from "../routing/route.ts";
import { LOCAL_INFO_IDENTIFIER, type LocalInfo, RoutedMessage } from "../routing/routed_message.ts";
import { ownedBytes } from "../routing/tcp_codec.ts";
import type { Decryptor } from "./decryptor.ts";
import type { Encryptor } from "./encryptor.ts";
import { type ChannelMessage, decodeChannelMessage, encodeChannelMessage } from "./messages.ts";
import { errorFields, identityOf, peerLimits } from "./_handshake.ts";
import type { ChannelJournal } from "./_channel_journal.ts";
import { PeerState } from "./_peer_credentials.ts";
import {
  ChannelRoute,
  DEFAULT_MAX_HELD_BYTES,
  DEFAULT_MAX_HELD_FRAMES,
  DEFAULT_ROUTE_LOSS_GRACE,
} from "./_channel_route.ts";
import {
  type ChannelPeer,
  DEFAULT_MAX_WAITING_BYTES,
  DEFAULT_MAX_WAITING_FRAMES,
  LOCAL_INFO_ATTRIBUTES,
  LOCAL_INFO_CHANNEL,
  type SecureChannelOptions,
} from "./secure_channel_options.ts";

/** Internal wiring handed from a handshake to the channel it opens. */
export interface ChannelParts {
  /** The node both workers run on. */
  node: Node;
  /** Which end of the handshake this is. */
  role: "initiator" | "responder";
  /** Where local plaintext goes in (Ockam's `encryptor`). */
  encryptorAddress: Address;
  /** Where the peer's frames arrive (Ockam's `decryptor_remote`). */
  decryptorAddress: Address;
  /** The route to the peer's decryptor. */
  remoteRoute: Route;
  /** This end's sending state. */
  encryptor: Encryptor;
  /** This end's receiving state. */
  decryptor: Decryptor;
  /** The authenticated peer. */
  peer: ChannelPeer;
  /** The options the channel was made with. */
  options: SecureChannelOptions;
  /** A responder's listener flow, which the channel's own flow is spawned from. */
  spawner?: Flow;
  /** A resumable channel's persisted state. */
  journal?: ChannelJournal;
}

/** How long `close()` waits for messages already accepted to go out, in ms. */
const CLOSE_DRAIN_TIMEOUT = 5000;

/** A frame waiting aside for its epoch key. */
interface Waiting {
  frame: Uint8Array;
  epoch: number;
  step: () => Promise<void>;
}

/** Frames needing at most this many epoch derivations wait in order, not aside. */
const NEAR_EPOCHS = 4;
/** Bytes a waiting frame is counted for beyond its own. */
const WAITING_OVERHEAD = 64;

/** A frame that authenticated and decoded. */
interface Opened {
  nonce: number;
  message: ChannelMessage;
}

/** A pair of Web Streams of messages through a channel to one destination. */
export interface ChannelStream {
  /** Payloads of the messages that come back to this stream. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Each chunk written is sent as one message through the channel. */
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * One end of an open, mutually authenticated channel. Route plaintext through it with
 * `[channel.address, ...destination]`; every message delivered from it carries the
 * peer's identifier and attributes in its local info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSecureChannel, createSecureChannelListener } from "@sealroute/sealroute/channel";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const listener = await createSecureChannelListener(node, "api", {
 *   identity: await createIdentity(new Vault()),
 * });
 * startEcho(node, { consumes: [listener.flow] }); // reachable through the listener's channels
 * const channel = await createSecureChannel(node, "api", { identity: await createIdentity(new Vault()) });
 * const reply = await channel.request("echo", new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(reply.payload), "hello");
 * await channel.close();
 * ```
 */
export class SecureChannel implements AsyncDisposable {
  #node: Node;
  #role: "initiator" | "responder";
  #encryptorAddress: Address;
  #decryptorAddress: Address;
  #route: ChannelRoute;
  #lastNonce = 0;
  #encryptor: Encryptor;
  #decryptor: Decryptor;
  #flow: Flow;
  #peerState: PeerState;
  #options: SecureChannelOptions;
  #journal: ChannelJournal | undefined;
  #maxInFlight: number;
  #outbox: Promise<void>[] = [];
  #inbox: Promise<void>[] = [];
  // Frames waiting for their epoch key to be derived, in arrival order (at most maxInFlight).
  #aside: Waiting[] = [];
  #asideBytes = 0;
  #asideLowest = Infinity; // lowest epoch among the frames waiting aside
  #localInfo: { peer: ChannelPeer; info: LocalInfo } | undefined;
  #lastDestination: { text: string; route: Route } | undefined;
  #lastPopped: { from: Route; popped: Route } | undefined;
  #newestRefresh = -1; // nonce of the newest RefreshCredentials decrypted so far
  #isClosed = false;
  #peerClosed: ChannelError | undefined;
  #closed: Promise<ChannelError | undefined>;
  #resolveClosed!: (reason: ChannelError | undefined) => void;

  /** Internal: channels come from {@linkcode createSecureChannel} and listeners. */
  constructor(parts: ChannelParts) {
    this.#node = parts.node;
    this.#role = parts.role;
    this.#encryptorAddress = parts.encryptorAddress;
    this.#decryptorAddress = parts.decryptorAddress;
    this.#encryptor = parts.encryptor;
    this.#decryptor = parts.decryptor;
    this.#peerState = new PeerState(parts.peer, identityOf(parts.peer), {
      channel: parts.options,
      limits: peerLimits(parts.options),
    });
    this.#options = parts.options;
    this.#journal = parts.journal;
    this.#journal?.attach(() => this.#peerState.peer);
    this.#maxInFlight = parts.options.maxInFlight ?? 64;
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#node.startWorker(this.#encryptorAddress, (ctx) => this.#encrypt(ctx), {
      onStop: () => this.#finish(),
    });
    // Decrypted messages arrive on the channel's own flow; a request through the encryptor
    // makes its reply worker a consumer of it.
    this.#flow = this.#node.flowControls.createFlow({
      label: `secure channel ${this.#encryptorAddress}`,
      ...(parts.spawner ? { spawner: parts.spawner } : {}),
    });
    this.#node.flowControls.addProducer(this.#encryptorAddress, this.#flow);
    const options = parts.options;
    this.#route = new ChannelRoute({
      node: this.#node,
      route: parts.remoteRoute,
      // An initiator's first hop is its own link: gone is gone (a reconnecting link does not
      // stop when its connection drops). A responder waits for its peer to come back.
      closeOnLoss: options.closeOnRouteLoss ?? (parts.role === "initiator" ? true : undefined),
      grace: options.routeLossGrace ?? DEFAULT_ROUTE_LOSS_GRACE,
      maxHeldFrames: options.maxHeldFrames ?? DEFAULT_MAX_HELD_FRAMES,
      maxHeldBytes: options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
      settle: () => this.#settle(),
      isClosed: () => this.#isClosed,
      lost: (error) => {
        this.#peerClosed ??= error;
        this.#stop().catch((e) => this.#log("error", "could not stop the channel", e));
      },
      log: (level, message, error) => this.#log(level, message, error),
      peer: this.#peerState.peer.identifier,
    });
    // Renewed credentials go to the peer by themselves while the channel is open.
    const source = parts.options.credentialSource;
    if (source) {
      const stop = source.onChange((credentials) => {
        if (this.#isClosed) return;
        this.refreshCredentials(credentials).catch((error) =>
          this.#log("warn", "could not send renewed credentials", error)
        );
      });
      void this.closed.then(stop);
    }
  }

  // Resolves once every frame that had reached the decryptor is handled.
  async #settle(): Promise<void> {
    await this.#node.drained(this.#decryptorAddress);
    while (this.#inbox.length > 0 && !this.#isClosed) {
      await Promise.allSettled(this.#inbox);
    }
  }

  /** The local address to route plaintext through: `[channel.address, ...destination]`. */
  get address(): Address {
    return this.#encryptorAddress;
  }

  /** The address the peer's frames arrive at (Ockam's `decryptor_remote`). */
  get remoteAddress(): Address {
    return this.#decryptorAddress;
  }

  /** The route frames go out on, to the peer's decryptor. */
  get remoteRoute(): Route {
    return this.#route.route;
  }

  /**
   * The flow decrypted messages arrive on: only workers that consume it (or, for a
   * responder, its listener's flow) hear from the peer. Start a worker with
   * `consumes: [channel.flow]` to expose it through this channel.
   */
  get flow(): Flow {
    return this.#flow;
  }

  /** The authenticated peer's identifier. */
  get remoteIdentifier(): string {
    return this.#peerState.peer.identifier;
  }

  /** The authenticated peer's attributes, from credentials that verified. */
  get remoteAttributes(): Readonly<Record<string, Uint8Array>> {
    this.#credentialsNow();
    return this.#peerState.peer.attributes;
  }

  /** Whether this end started the handshake. */
  get isInitiator(): boolean {
    return this.#role === "initiator";
  }

  /** Whether the channel is closed (locally or by the peer). */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /**
   * Resolves when the channel closes: `undefined` for a local close, else why
   * (`ChannelError` `closed-by-peer`, or `route-lost` when its link went away).
   */
  get closed(): Promise<ChannelError | undefined> {
    return this.#closed;
  }

  /**
   * Sends `payload` through the channel to `destination` on the peer's node, waiting while
   * the channel's queue is full. A closed channel is a `ChannelError` (`closed`,
   * `closed-by-peer`, `route-lost`).
   */
  send(
    destination: RouteLike,
    payload: Uint8Array,
    options: { from?: Address } = {},
  ): Promise<void> {
    const error = this.#closedError();
    if (error) return Promise.reject(error);
    // Waits for room in the encryptor's mailbox rather than failing when it is full.
    const message = new RoutedMessage({
      onwardRoute: this.#routeTo(destination),
      returnRoute: options.from ? [options.from] : Route.EMPTY,
      payload,
    });
    return this.#node.deliver(message, options.from ? { from: options.from } : {});
  }

  // `[encryptor, ...destination]`, the same Route object while the destination named is the
  // same text (routes are immutable), so the hops after it encode it once.
  #routeTo(destination: RouteLike): Route {
    const last = this.#lastDestination;
    if (last && typeof destination === "string" && last.text === destination) return last.route;
    const route = Route.from(this.#encryptorAddress, destination);
    if (typeof destination === "string") {
      this.#lastDestination = { text: destination, route };
      this.#lastPopped = undefined;
    }
    return route;
  }

  /**
   * Request/reply through the channel; fails with `ChannelError` `closed-by-peer` as soon
   * as the peer closes the channel, instead of waiting for the timeout.
   */
  async request(
    destination: RouteLike,
    payload: Uint8Array,
    options: RequestOptions = {},
  ): Promise<RoutedMessage> {
    const error = this.#closedError();
    if (error) throw error;
    const controller = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, controller.signal])
      : controller.signal;
    const closed = this.#closed.then((reason) => {
      throw reason ?? new ChannelError("closed", "the channel was closed");
    });
    try {
      return await Promise.race([
        this.#node.request(Route.from(this.#encryptorAddress, destination), payload, {
          ...options,
          signal,
        }),
        closed,
      ]);
    } finally {
      controller.abort();
      closed.catch(() => {});
    }
  }

  /**
   * Messages through the channel as Web Streams: chunks written go to `destination`, and
   * payloads sent back to this stream's return route come out of `readable`.
   */
  openStream(destination: RouteLike): ChannelStream {
    const node = this.#node;
    let address: Address | undefined;
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        address = node.startWorker(Address.random(), (ctx) => {
          controller.enqueue(ctx.message.payload);
        }, { onStop: () => controller.close(), consumes: [this.#flow] });
        this.#closed.then((reason) => reason && controller.error(reason));
      },
      cancel: () => void node.stopWorker(address!),
    });
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.send(destination, chunk, { from: address! }),
      close: () => void node.stopWorker(address!),
      abort: () => void node.stopWorker(address!),
    });
    return { readable, writable };
  }

  /**
   * Presents new credentials to the peer (Ockam's `RefreshCredentials`); the peer checks
   * them against its authorities and, when they verify, grants their attributes to later
   * messages. Default: this identity's stored credentials.
   */
  async refreshCredentials(credentials?: readonly CredentialAndPurposeKey[]): Promise<void> {
    const error = this.#closedError();
    if (error) throw error;
    const body = encodeRefreshCredentials({
      changeHistory: this.#options.identity.changeHistory,
      credentials: [...(credentials ?? this.#options.identity.credentials)],
    });
    await this.#sendControl(encodeChannelMessage({ kind: "refresh-credentials", body }));
  }

  // Close and RefreshCredentials go out after every frame already queued, with return
  // route [encryptor] as Ockam sends them.
  async #sendControl(plaintext: Uint8Array): Promise<void> {
    await Promise.allSettled(this.#outbox);
    const frame = await this.#encryptor.encrypt(plaintext);
    await this.#route.send(frame, this.#encryptorAddress);
  }

  /**
   * Sends Close to the peer (as Ockam does when an encryptor stops) and stops both workers.
   * Messages already accepted by the channel go out first (waiting at most 5 s for them).
   */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#node.drained(this.#encryptorAddress),
      new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_DRAIN_TIMEOUT)),
    ]);
    clearTimeout(timer);
    if (this.#isClosed) return;
    try {
      await this.#sendControl(encodeChannelMessage({ kind: "close" }));
    } catch (error) {
      this.#log("warn", "could not send Close to the peer", error);
    }
    await this.#stop();
  }

  /** Closes the channel. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** String form without secrets. */
  toString(): string {
    return `SecureChannel(${this.#role}, ${this.#encryptorAddress} <-> ${this.#peerState.peer.identifier})`;
  }

  /** Internal: a frame arrived at the decryptor address. */
  receive(ctx: WorkerContext): Promise<void> | void {
    const { payload, returnRoute } = ctx.message;
    if (this.#aside.length === 0 && !this.#journal) {
      const done = this.#receiveNow(payload, returnRoute);
      if (done !== false) return done;
    }
    this.#admitCaughtUp();
    const epoch = this.#decryptor.epochOf(payload);
    // A frame whose epoch key needs more than a few derivations (its sender skipped far
    // ahead, or a forgery claims it did) waits aside, holding back no frame behind it, and
    // joins the queue once its key is at hand. A frame of the same or a later epoch than
    // one waiting aside waits behind it, so frames keep their order.
    const aside = this.#decryptor.epochsToDerive(payload) > NEAR_EPOCHS ||
      (this.#aside.length > 0 && epoch >= this.#asideLowest);
    const opened = this.#open(payload);
    const step = () => opened.then((frame) => frame && this.#handle(frame, returnRoute));
    if (!aside) return this.#pipeline(this.#inbox, step);
    this.#setAside({ frame: payload, epoch, step });
    opened.then(() => this.#admitCaughtUp());
  }

  // Cut-through: a frame opened synchronously (a native AEAD, its key at hand) is handled at
  // once when no earlier frame is in progress, else queued behind them already opened.
  // False when it cannot be opened synchronously (nothing done).
  #receiveNow(frame: Uint8Array, returnRoute: Route): Promise<void> | void | false {
    let opened: { nonce: number; plaintext: Uint8Array } | undefined;
    try {
      opened = this.#decryptor.decryptSync(frame);
    } catch (error) {
      this.#log(this.#isClosed ? "debug" : "warn", "refused a frame", error);
      return;
    }
    if (!opened) return false;
    const message = this.#decoded(opened.nonce, opened.plaintext);
    if (!message) return;
    if (message.kind !== "payload" || this.#inbox.length > 0) {
      const frame = { nonce: opened.nonce, message };
      this.#pipeline(this.#inbox, () => this.#handle(frame, returnRoute));
      // The next frame waits for this one, and is then handled at once.
      return this.#inbox.at(-1);
    }
    try {
      const pending = this.#deliverPayload(opened.nonce, message.message, returnRoute);
      if (pending) return pending;
    } catch (error) {
      this.#log("warn", "dropped an authenticated frame", error);
    }
  }

  #setAside(entry: Waiting): void {
    const cost = entry.frame.length + WAITING_OVERHEAD;
    const maxFrames = this.#options.maxWaitingFrames ?? DEFAULT_MAX_WAITING_FRAMES;
    const maxBytes = this.#options.maxWaitingBytes ?? DEFAULT_MAX_WAITING_BYTES;
    while (this.#aside.length >= maxFrames || this.#asideBytes + cost > maxBytes) {
      // Room goes to the frame pointing least far ahead: what points furthest is dropped.
      let furthest = 0;
      for (let i = 1; i < this.#aside.length; i++) {
        if (this.#aside[i]!.epoch > this.#aside[furthest]!.epoch) furthest = i;
      }
      const worst = this.#aside[furthest];
      const full = new ChannelError(
        "catch-up-full",
        `${this.#aside.length} frames (${this.#asideBytes} bytes) already wait for their keys`,
      );
      if (!worst || worst.epoch <= entry.epoch) {
        this.#log("warn", "dropped a frame waiting for its key", full);
        return;
      }
      this.#aside.splice(furthest, 1);
      this.#asideBytes -= worst.frame.length + WAITING_OVERHEAD;
      this.#log("warn", "dropped a frame waiting for its key", full);
    }
    this.#aside.push(entry);
    this.#asideBytes += cost;
    if (entry.epoch < this.#asideLowest || this.#aside.length === 1) {
      this.#asideLowest = entry.epoch;
    }
  }

  // Moves every frame waiting aside whose key is now at hand into the queue, in arrival
  // order (keys become ready in epoch order, so no frame overtakes one of a lower epoch).
  #admitCaughtUp(): void {
    if (this.#aside.length === 0) return;
    const waiting = this.#aside;
    this.#aside = [];
    this.#asideBytes = 0;
    this.#asideLowest = Infinity;
    for (const entry of waiting) {
      if (this.#decryptor.isKeyed(entry.frame)) {
        void this.#pipeline(this.#inbox, entry.step);
        continue;
      }
      this.#aside.push(entry);
      this.#asideBytes += entry.frame.length + WAITING_OVERHEAD;
      if (entry.epoch < this.#asideLowest) this.#asideLowest = entry.epoch;
    }
  }

  // Decrypts and decodes a frame as soon as it arrives (the crypto of many frames
  // overlaps); a refusal is logged here, and the frame resolves to undefined. Never rejects.
  #open(frame: Uint8Array): Promise<Opened | undefined> {
    return this.#decryptor.decrypt(frame).then(({ nonce, plaintext }) => {
      const message = this.#decoded(nonce, plaintext);
      return message && { nonce, message };
    }, (error) => {
      this.#log(this.#isClosed ? "debug" : "warn", "refused a frame", error);
      return undefined;
    });
  }

  // An authenticated frame's plaintext decoded, or undefined (logged) when it does not.
  #decoded(nonce: number, plaintext: Uint8Array): ChannelMessage | undefined {
    let message: ChannelMessage;
    try {
      // The plaintext is a fresh buffer no one else holds: its payload may be a view of it.
      message = decodeChannelMessage(ownedBytes(plaintext));
    } catch (error) {
      this.#log("warn", "dropped an authenticated frame that does not decode", error);
      return undefined;
    }
    this.#journal?.saw(nonce);
    if (message.kind === "refresh-credentials" && nonce > this.#newestRefresh) {
      this.#newestRefresh = nonce;
    }
    return message;
  }

  // The crypto of up to maxInFlight messages overlaps (it started before this call); the
  // steps that deliver results run one after another, in arrival order. When the queue is
  // full the worker's handler waits, which holds back its mailbox (backpressure). A step
  // that fails is logged, and the next one runs.
  #pipeline(queue: Promise<void>[], step: () => Promise<void>): Promise<void> | void {
    const previous = queue.at(-1) ?? Promise.resolve();
    const link = previous.then(step).catch((error) => {
      this.#log("error", "dropped a frame its handler failed on", error);
    });
    queue.push(link);
    link.finally(() => queue.splice(queue.indexOf(link), 1));
    if (queue.length >= this.#maxInFlight) return queue[0]!.then(() => {}, () => {});
  }

  #encrypt(ctx: WorkerContext): Promise<void> | void {
    const m = ctx.message;
    const plaintext = encodeChannelMessage({
      kind: "payload",
      message: new RoutedMessage({
        onwardRoute: this.#popped(m.onwardRoute),
        returnRoute: m.returnRoute,
        payload: m.payload,
      }),
    });
    // Cut-through: sealed synchronously (a native AEAD, its key at hand) and, when no
    // earlier frame waits, taken by the next hop at once, before the next message is looked at.
    const sealed = this.#encryptor.encryptSync(plaintext);
    if (sealed) {
      if (this.#outbox.length === 0 && this.#route.trySend(sealed)) return;
      // Behind earlier frames: the next message waits until this one is out, so the
      // channel is back on the cut-through path from then on.
      this.#pipeline(this.#outbox, () => this.#outboxSend(Promise.resolve(sealed)));
      return this.#outbox.at(-1);
    }
    const frame = this.#encryptor.encrypt(plaintext);
    frame.catch(() => {});
    const full = this.#pipeline(this.#outbox, () => this.#outboxSend(frame));
    // Where frames are normally sealed synchronously, one that was not (a new epoch's key
    // still being made) is let finish before the next message, which is then cut through.
    return this.#encryptor.cutThrough ? this.#outbox.at(-1) : full;
  }

  // `route` without its first hop (this encryptor), the same object for the same route.
  #popped(route: Route): Route {
    const last = this.#lastPopped;
    if (last?.from === route) return last.popped;
    const popped = route.popFront();
    this.#lastPopped = { from: route, popped };
    return popped;
  }

  async #outboxSend(frame: Promise<Uint8Array>): Promise<void> {
    // Ockam sends Payload frames with an empty return route; transports add their hops.
    const bytes = await frame.catch((error) => {
      this.#log("error", "encryption failed", error);
      return undefined;
    });
    if (!bytes) return;
    // deliver waits for room in the next hop's mailbox (a busy connection), so a burst is
    // held back here, and through the pipeline at the sender, instead of being dropped.
    await this.#route.send(bytes).catch((error) => {
      this.#log("warn", "could not send a frame towards the peer", error);
    });
  }

  // One authenticated frame's effect, in arrival order. Whatever it throws is contained:
  // logged with a code, and the channel goes on (only Close ends it).
  async #handle({ nonce, message }: Opened, frameReturnRoute: Route): Promise<void> {
    try {
      // A resumable channel handles a frame only once a floor covering it is persisted.
      await this.#journal?.received(nonce);
      await this.#apply(nonce, message, frameReturnRoute);
    } catch (error) {
      const typed = error instanceof SealrouteError ? error : new ChannelError(
        "bad-message",
        `an authenticated ${message.kind} frame could not be handled: ${
          String(error).slice(0, 80)
        }`,
        { cause: error },
      );
      this.#log("warn", "dropped an authenticated frame", typed);
    }
  }

  async #apply(nonce: number, message: ChannelMessage, frameReturnRoute: Route): Promise<void> {
    switch (message.kind) {
      case "payload":
        await this.#deliverPayload(nonce, message.message, frameReturnRoute);
        return;
      case "close":
        this.#peerClosed = new ChannelError(
          "closed-by-peer",
          `${this.#peerState.peer.identifier} closed the channel`,
        );
        this.#stop().catch((error) => this.#log("error", "could not stop the channel", error));
        return;
      case "refresh-credentials":
        // A burst of refreshes is verified once: each one a newer refresh (higher nonce)
        // has already arrived for is skipped, as that one replaces it anyway.
        if (nonce < this.#newestRefresh) {
          this.#log(
            "debug",
            "skipped refreshed credentials a newer refresh replaces",
            new ChannelError("refresh-superseded", `refresh ${nonce} < ${this.#newestRefresh}`),
          );
          return;
        }
        await this.#peerState.refresh(message.body).catch((error) => {
          this.#log("warn", "refused refreshed credentials", error);
        });
    }
  }

  // A Payload frame's message, delivered: at once when the next hop takes it now (nothing
  // returned), else the promise of its delivery (which never rejects).
  #deliverPayload(
    nonce: number,
    inner: RoutedMessage,
    frameReturnRoute: Route,
  ): Promise<void> | undefined {
    // Responder only (Ockam's roaming): follow the route the newest frame came on.
    const last = this.#route.route.last;
    if (this.#role === "responder" && nonce > this.#lastNonce && last) {
      this.#lastNonce = nonce;
      this.#route.follow(frameReturnRoute.append(last));
    }
    // Attributes hold while their credentials do; a policy they no longer meet ends it.
    if (!this.#credentialsNow()) return;
    const peer = this.#peerState.peer;
    if (this.#localInfo?.peer !== peer) {
      // One frozen local info per state of the peer, not one per message.
      this.#localInfo = {
        peer,
        info: Object.freeze({
          [LOCAL_INFO_IDENTIFIER]: peer.identifier,
          [LOCAL_INFO_ATTRIBUTES]: peer.attributes,
          [LOCAL_INFO_CHANNEL]: this.#encryptorAddress.toString(),
        }),
      };
    }
    const delivered = new RoutedMessage({
      onwardRoute: inner.onwardRoute,
      returnRoute: inner.returnRoute.prepend(this.#encryptorAddress),
      payload: inner.payload,
      localInfo: this.#localInfo.info,
    });
    const how = { from: this.#decryptorAddress, flow: this.#flow };
    if (this.#node.tryDeliver(delivered, how)) return;
    return this.#node.deliver(delivered, how).catch((error) => {
      this.#log("warn", "could not deliver a decrypted message", error);
    });
  }

  /**
   * Drops the peer's credentials that expired (and their attributes); when the trust policy
   * no longer holds without them, closes the channel (`credential-expired`) and returns false.
   */
  #credentialsNow(): boolean {
    const { dropped, trusted } = this.#peerState.expire();
    if (!dropped) return true;
    const peer = this.#peerState.peer;
    if (trusted) {
      this.#node.logger.info("secure channel: peer credentials expired, attributes dropped", {
        peer: peer.identifier,
      });
      return true;
    }
    this.#peerClosed ??= new ChannelError(
      "credential-expired",
      `the credentials of ${peer.identifier} expired and the trust policy needs them`,
    );
    // The peer is told (Close), as for any refusal after the handshake.
    void this.#sendControl(encodeChannelMessage({ kind: "close" }))
      .catch((error) => this.#log("debug", "could not send Close to the peer", error))
      .finally(() =>
        this.#stop().catch((error) => this.#log("error", "could not stop the channel", error))
      );
    return false;
  }

  async #stop(): Promise<void> {
    this.#finish();
    // With the reason, requests routed through the channel fail at once instead of timing out.
    await Promise.all([
      this.#node.stopWorker(this.#encryptorAddress, this.#peerClosed),
      this.#node.stopWorker(this.#decryptorAddress, this.#peerClosed),
    ]);
    // Ended for good (not a node stopping): its persisted state goes.
    await this.#journal?.discard().catch((error) =>
      this.#log("error", "could not delete the persisted state", error)
    );
  }

  #finish(): void {
    this.#isClosed = true;
    this.#decryptor.close();
    this.#aside = [];
    this.#asideBytes = 0;
    this.#route?.close();
    this.#resolveClosed(this.#peerClosed);
  }

  #closedError(): ChannelError | undefined {
    if (this.#peerClosed) return this.#peerClosed;
    if (this.#isClosed) return new ChannelError("closed", "the channel was closed");
    return undefined;
  }

  #log(level: "debug" | "warn" | "error", message: string, error: unknown): void {
    this.#node.logger[level](
      `secure channel ${this.#encryptorAddress}: ${message}`,
      errorFields(error),
    );
  }
}
