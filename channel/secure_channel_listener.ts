/**
 * The responder's side: a worker that answers every handshake message 1 with a fresh
 * responder (Ockam's secure-channel listener, default address `api` in Ockam nodes).
 *
 * @module
 */
import { ChannelError, SealrouteError } from "../errors.ts";
import { Address, type AddressLike } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import { Decryptor } from "./decryptor.ts";
import { Encryptor } from "./encryptor.ts";
import type { HandshakeState } from "./handshake_state.ts";
import { CLOSE_BYTES } from "./messages.ts";
import { SecureChannel } from "./secure_channel.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT, type SecureChannelOptions } from "./secure_channel_options.ts";
import { logFailure, startHandshake, verifyPeer } from "./_handshake.ts";

/** Options of {@linkcode createSecureChannelListener}. */
export interface SecureChannelListenerOptions extends SecureChannelOptions {
  /** Called with each channel once the initiator is authenticated and trusted. */
  onChannel?: (channel: SecureChannel) => void;
  /** Called with the typed error of each handshake this end failed or refused. */
  onRefused?: (error: SealrouteError) => void;
  /** Handshakes in progress at once before new ones are dropped. Default 10 000. */
  maxHandshakes?: number;
}

/**
 * A listening responder: its channels, and `close()` to stop listening (open channels
 * stay open until closed themselves).
 */
export class SecureChannelListener implements AsyncDisposable {
  #node: Node;
  #address: Address;
  #channels = new Set<SecureChannel>();

  /** Internal: use {@linkcode createSecureChannelListener}. */
  constructor(node: Node, address: Address) {
    this.#node = node;
    this.#address = address;
  }

  /** The listener's address (route handshakes to it). */
  get address(): Address {
    return this.#address;
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
  const max = options.maxHandshakes ?? 10_000;
  let inProgress = 0;
  node.startWorker(listener.address, (ctx) => {
    if (inProgress >= max) {
      node.logger.warn("secure channel listener: too many handshakes in progress, dropped one");
      return;
    }
    inProgress++;
    void respond(node, listener, ctx.message, options).finally(() => inProgress--);
  });
  return Promise.resolve(listener);
}

async function respond(
  node: Node,
  listener: SecureChannelListener,
  message1: RoutedMessage,
  options: SecureChannelListenerOptions,
): Promise<void> {
  const refuse = (error: unknown): void => {
    logFailure(node, `secure channel listener ${listener.address}: handshake refused`, error);
    if (error instanceof SealrouteError) options.onRefused?.(error);
  };
  let started;
  try {
    started = await startHandshake(options, false);
    await started.hs.readMessage(message1.payload);
  } catch (error) {
    return refuse(error);
  }
  const { payload } = started;
  // Dropped once the channel exists, so an open channel keeps no handshake state alive.
  let handshake: HandshakeState | undefined = started.hs;
  const remoteRoute = message1.returnRoute;
  const decryptorAddress = Address.random();
  const encryptorAddress = Address.random();
  let channel: SecureChannel | undefined;
  let done = false;
  const timeout = options.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const fail = (error: unknown): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    void node.stopWorker(decryptorAddress);
    refuse(error);
  };
  const timer = setTimeout(
    () =>
      fail(new ChannelError("handshake-timeout", `no handshake message 3 within ${timeout} ms`)),
    timeout,
  );

  node.startWorker(decryptorAddress, async (ctx) => {
    if (channel) return channel.receive(ctx);
    const hs = handshake;
    if (done || !hs) return;
    try {
      // Message 3: the initiator's s and identity payload.
      const peerPayload = await hs.readMessage(ctx.message.payload);
      // The transport keys are derived while the initiator is checked.
      const verifying = verifyPeer(hs, peerPayload, options);
      verifying.catch(() => {});
      const [toResponder, toInitiator] = await hs.split();
      let peer;
      try {
        peer = await verifying;
      } catch (error) {
        // Refused after message 3: tell the initiator through the channel (Ockam's Close).
        const close = await new Encryptor(toInitiator).encrypt(CLOSE_BYTES);
        await node.send(remoteRoute, close, { from: decryptorAddress }).catch(() => {});
        throw error;
      }
      if (done) return;
      done = true;
      clearTimeout(timer);
      const windowSize = options.replayWindow ? { windowSize: options.replayWindow } : {};
      channel = new SecureChannel({
        node,
        role: "responder",
        encryptorAddress,
        decryptorAddress,
        remoteRoute,
        encryptor: new Encryptor(toInitiator),
        decryptor: new Decryptor(toResponder, windowSize),
        peer,
        options,
      });
      handshake = undefined;
      listener.add(channel);
      options.onChannel?.(channel);
    } catch (error) {
      fail(error);
    }
  });
  try {
    const message2 = await started.hs.writeMessage(payload);
    await node.send(remoteRoute, message2, { from: decryptorAddress });
  } catch (error) {
    fail(error);
  }
}
