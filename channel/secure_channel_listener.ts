/**
 * The responder's side: a worker that answers every handshake message 1 with a fresh
 * responder (Ockam's secure-channel listener, default address `api` in Ockam nodes).
 *
 * @module
 */
import { ChannelError, SealrouteError } from "../errors.ts";
import { Address, type AddressLike } from "../routing/address.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { Node } from "../routing/node.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import { Encryptor } from "./encryptor.ts";
import type { HandshakeState } from "./handshake_state.ts";
import { CLOSE_BYTES } from "./messages.ts";
import { SecureChannel } from "./secure_channel.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_HANDSHAKES,
  type SecureChannelOptions,
} from "./secure_channel_options.ts";
import { logFailure, startHandshake, verifyPeer } from "./_handshake.ts";
import { newTransport } from "./_resumable.ts";

/** Options of {@linkcode createSecureChannelListener}. */
export interface SecureChannelListenerOptions extends SecureChannelOptions {
  /** Called with each channel once the initiator is authenticated and trusted. */
  onChannel?: (channel: SecureChannel) => void;
  /** Called with the typed error of each handshake this end failed or refused. */
  onRefused?: (error: SealrouteError) => void;
  /**
   * Handshakes in progress at once before new ones are dropped: each counts from its
   * message 1 until it completes (message 3 read and the initiator verified), fails or
   * times out (`timeout`, which bounds every stage). Default
   * {@linkcode DEFAULT_MAX_HANDSHAKES} (10 000, ≈ 40 MiB of heap when all are pending).
   */
  maxHandshakes?: number;
  /**
   * Flows handshakes may arrive on: a TCP listener's `flow`, a connection's `flow`, an
   * outer channel's `flow`. Messages from a connection reach only workers that consume its
   * flow, so a listener reached over the network needs this. Each channel's decryptor
   * consumes the same flows. Default: none (reachable from local workers only).
   */
  consumes?: readonly Flow[];
}

/**
 * A listening responder: its channels, and `close()` to stop listening (open channels
 * stay open until closed themselves).
 */
export class SecureChannelListener implements AsyncDisposable {
  #node: Node;
  #address: Address;
  #flow: Flow;
  #channels = new Set<SecureChannel>();

  /** Internal: use {@linkcode createSecureChannelListener}. */
  constructor(node: Node, address: Address) {
    this.#node = node;
    this.#address = address;
    this.#flow = node.flowControls.createFlow({ label: `secure channel listener ${address}` });
  }

  /** The listener's address (route handshakes to it). */
  get address(): Address {
    return this.#address;
  }

  /**
   * The spawner of every accepted channel's flow: workers that consume it hear from the
   * peers of every channel this listener accepts (`consumes: [listener.flow]`), and from
   * no one else.
   */
  get flow(): Flow {
    return this.#flow;
  }

  /** Channels accepted and still open. */
  get channels(): ReadonlySet<SecureChannel> {
    return this.#channels;
  }

  /** Internal: tracks an accepted channel until it closes. */
  add(channel: SecureChannel): void {
    this.#channels.add(channel);
    void channel.closed.then(() => this.#channels.delete(channel));
  }

  /** Stops accepting handshakes. */
  async close(): Promise<void> {
    await this.#node.stopWorker(this.#address);
  }

  /** Stops accepting handshakes. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Listens for secure-channel handshakes at `address`. Each initiator is checked (its
 * identity, the attestation of its Noise static key, its credentials, the trust policy)
 * before its channel opens; a refused initiator is sent Close through the new channel so
 * it learns at once, and nothing stays registered. Responders that never see message 3
 * are freed after the handshake timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSecureChannel, createSecureChannelListener } from "@sealroute/sealroute/channel";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const accepted: string[] = [];
 * const listener = await createSecureChannelListener(node, "api", {
 *   identity: await createIdentity(new Vault()),
 *   onChannel: (channel) => accepted.push(channel.remoteIdentifier),
 * });
 * const client = await createIdentity(new Vault());
 * const channel = await createSecureChannel(node, "api", { identity: client });
 * await new Promise((r) => setTimeout(r, 10));
 * assert.deepEqual(accepted, [client.identifier]);
 * await channel.close();
 * await listener.close();
 * ```
 */
export function createSecureChannelListener(
  node: Node,
  address: AddressLike,
  options: SecureChannelListenerOptions,
): Promise<SecureChannelListener> {
  const listener = new SecureChannelListener(node, Address.from(address));
  const max = options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES;
  const slots: HandshakeSlots = { inProgress: 0, halfOpen: new Set() };
  node.startWorker(listener.address, (ctx) => {
    if (slots.inProgress >= max) {
      // Full: the oldest handshake still waiting for message 3 makes room (a flood of
      // message 1s cannot starve initiators that answer at once); if none waits, the new
      // handshake is dropped.
      const oldest = slots.halfOpen.values().next().value;
      const full = new ChannelError(
        "too-many-handshakes",
        `${slots.inProgress} handshakes are in progress (the bound is ${max})`,
      );
      if (!oldest) {
        logFailure(node, `secure channel listener ${listener.address}: dropped a handshake`, full);
        return;
      }
      oldest(full);
    }
    // Counted until the handshake is over, whatever stage it reached.
    slots.inProgress++;
    let released = false;
    const release = () => {
      if (!released) slots.inProgress--;
      released = true;
    };
    respond(node, listener, ctx.message, options, { slots, release })
      .catch((error) => logFailure(node, `secure channel listener ${listener.address}`, error))
      .finally(release);
  }, options.consumes ? { consumes: options.consumes } : {});
  return Promise.resolve(listener);
}

/** A listener's count of handshakes in progress, and those waiting for message 3. */
interface HandshakeSlots {
  inProgress: number;
  /** Each half-open handshake's way to end it, oldest first. */
  halfOpen: Set<(reason: ChannelError) => void>;
}

async function respond(
  node: Node,
  listener: SecureChannelListener,
  message1: RoutedMessage,
  options: SecureChannelListenerOptions,
  slot: { slots: HandshakeSlots; release: () => void },
): Promise<void> {
  const where = `secure channel listener ${listener.address}`;
  let resolveOver!: () => void;
  const over = new Promise<void>((resolve) => resolveOver = resolve);
  const evict = (reason: ChannelError) => fail(reason);
  const end = () => {
    slot.slots.halfOpen.delete(evict);
    slot.release();
    resolveOver();
  };
  let decryptorAddress: Address | undefined = undefined;
  let channel: SecureChannel | undefined;
  let done = false;
  const fail = (error: unknown): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (decryptorAddress) {
      node.stopWorker(decryptorAddress).catch((e) => logFailure(node, where, e));
    }
    logFailure(node, `${where}: handshake refused`, error);
    if (error instanceof SealrouteError) callback(node, where, () => options.onRefused?.(error));
    end();
  };
  // One timeout for every stage: message 1 read, message 2 sent, message 3 read and the
  // initiator verified. Until then the handshake counts against maxHandshakes.
  const timeout = options.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = setTimeout(
    () =>
      fail(
        new ChannelError(
          "handshake-timeout",
          `the handshake did not complete within ${timeout} ms`,
        ),
      ),
    timeout,
  );
  let started;
  try {
    started = await startHandshake(options, false);
    await started.hs.readMessage(message1.payload);
  } catch (error) {
    fail(error);
    return over;
  }
  if (done) return over;
  const { payload } = started;
  // Dropped once the channel exists, so an open channel keeps no handshake state alive.
  let handshake: HandshakeState | undefined = started.hs;
  const remoteRoute = message1.returnRoute;
  const ownAddress = Address.random();
  decryptorAddress = ownAddress;
  const encryptorAddress = Address.random();

  const consumes = node.flowControls.consumedFlows(listener.address);
  node.startWorker(ownAddress, async (ctx) => {
    if (channel) return channel.receive(ctx);
    const hs = handshake;
    if (done || !hs) return;
    // From message 3 on, the handshake is no longer half-open: it is not evicted.
    slot.slots.halfOpen.delete(evict);
    try {
      // Message 3: the initiator's s and identity payload.
      const peerPayload = await hs.readMessage(ctx.message.payload);
      // The transport keys are derived while the initiator is checked.
      const verifying = verifyPeer(hs, peerPayload, options);
      verifying.catch(() => {});
      const split = await hs.splitWithKeys();
      const [toResponder, toInitiator] = split.ciphers;
      const receiveBytes = split.keys[0];
      split.keys[1].fill(0);
      let peer;
      try {
        peer = await verifying;
      } catch (error) {
        receiveBytes.fill(0);
        // Refused after message 3: tell the initiator through the channel (Ockam's Close).
        const close = await new Encryptor(toInitiator).encrypt(CLOSE_BYTES);
        await node.send(remoteRoute, close, { from: ownAddress }).catch(() => {});
        throw error;
      }
      if (done) return receiveBytes.fill(0), undefined;
      done = true;
      clearTimeout(timer);
      const keys = { send: toInitiator, receive: toResponder, receiveBytes };
      const halves = await newTransport(options, keys, {
        node,
        role: "responder",
        encryptorAddress,
        decryptorAddress: ownAddress,
        route: remoteRoute,
        peer,
        listener: listener.address,
      });
      channel = new SecureChannel({
        node,
        role: "responder",
        encryptorAddress,
        decryptorAddress: ownAddress,
        remoteRoute,
        ...halves,
        peer,
        options,
        spawner: listener.flow,
      });
      handshake = undefined;
      end();
      listener.add(channel);
      const opened = channel;
      callback(node, where, () => options.onChannel?.(opened));
    } catch (error) {
      fail(error);
    }
  }, {
    consumes,
    // The node closing (or anyone stopping the worker) ends a pending handshake, timer and all.
    onStop: () => fail(new ChannelError("closed", "the handshake's worker was stopped")),
  });
  try {
    const message2 = await started.hs.writeMessage(payload);
    if (!done) {
      if (handshake) slot.slots.halfOpen.add(evict);
      await node.send(remoteRoute, message2, { from: ownAddress });
    }
  } catch (error) {
    fail(error);
  }
  return over;
}

// Runs an application callback; what it throws is logged, never left to escape.
function callback(node: Node, where: string, run: () => void): void {
  try {
    run();
  } catch (error) {
    logFailure(node, `${where}: a callback threw`, error);
  }
}
