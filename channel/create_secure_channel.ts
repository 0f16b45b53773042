/**
 * The initiator's side of Ockam's secure-channel handshake.
 *
 * @module
 */
import { deferred } from "../_deferred.ts";
import { ChannelError } from "../errors.ts";
import { Address } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import { Route, type RouteLike } from "../routing/route.ts";
import { SecureChannel } from "./secure_channel.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT, type SecureChannelOptions } from "./secure_channel_options.ts";
import { type LocalHandshake, startHandshake, verifyPeer } from "./_handshake.ts";
import { InitiatorWatch } from "./_initiator_watch.ts";
import { newTransport } from "./_resumable.ts";

/** Options of {@linkcode createSecureChannel}. */
export interface CreateSecureChannelOptions extends SecureChannelOptions {
  /** Cancels the handshake (`ChannelError` `aborted`); everything it started is freed. */
  signal?: AbortSignal;
  /**
   * Send the channel's frames on the route the handshake took, with its last hop (the
   * listener) replaced by the responder's channel address, instead of the route the
   * responder's reply came back on (Ockam's choice; the default). Through a relay name
   * (`[link, forward_to_NAME, api]`) this route stays valid when the relay restarts or the
   * responder registers again, where the reply's path through the relay's internals does
   * not; the responder follows the route each newest frame arrives on either way.
   */
  keepHandshakeRoute?: boolean;
}

/**
 * Opens a mutually authenticated channel to the listener at the end of `route` (Noise XX
 * with Ockam's profile; messages 2 and 3 carry each side's identity, purpose-key
 * attestation and credentials). Resolves once message 3 is sent, as in Ockam.
 *
 * Fails with `HandshakeError` for a tampered or malformed message 2, `TrustError` when
 * the responder's identity or credentials do not satisfy `trustPolicy`, `ChannelError`
 * `handshake-timeout` or `aborted`, or the routing error of the first send. Known answers
 * come before the timeout: when the route's first hop (a connection) is lost while waiting,
 * the handshake fails at once with the connection's error (a `TransportError` such as
 * `connection-closed`, or `wrong-protocol` when the port answered in HTTP); when the far
 * node answers with an undeliverable notice naming an address of the route, with
 * `RouteError` `unknown-address` ("the far node has no worker 'forward_to_x'"). Notices
 * count only until message 2 arrives: an untrusted relay cannot close an open channel with
 * one. A failed handshake leaves no worker behind. If the responder refuses this end after
 * message 3, it closes the channel: {@linkcode SecureChannel.closed} then resolves with
 * `closed-by-peer` and sends fail with that error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSecureChannel, createSecureChannelListener } from "@sealroute/sealroute/channel";
 * import { createIdentity, trustIdentifiers } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const server = await createIdentity(new Vault());
 * await createSecureChannelListener(node, "api", { identity: server });
 * const channel = await createSecureChannel(node, "api", {
 *   identity: await createIdentity(new Vault()),
 *   trustPolicy: trustIdentifiers(server.identifier),
 * });
 * assert.equal(channel.remoteIdentifier, server.identifier);
 * await channel.close();
 * ```
 */
export async function createSecureChannel(
  node: Node,
  route: RouteLike,
  options: CreateSecureChannelOptions,
): Promise<SecureChannel> {
  options.signal?.throwIfAborted();
  const target = Route.from(route);
  // Watching the first hop starts before the first await, so a link lost meanwhile is seen.
  const watch = new InitiatorWatch(node, target);
  // Dropped once the channel exists, so an open channel keeps no handshake state alive.
  let handshake: LocalHandshake | undefined;
  try {
    handshake = await startHandshake(options, true);
  } catch (error) {
    watch.close();
    throw error;
  }
  const decryptorAddress = Address.random();
  const encryptorAddress = Address.random();
  const { promise, resolve, reject } = deferred<SecureChannel>();
  let channel: SecureChannel | undefined;
  let settled = false;

  const finish = (error?: unknown): void => {
    if (settled) return;
    settled = true;
    watch.close();
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    if (error === undefined) return resolve(channel!);
    // Reject once the handshake's worker is gone, so a refused caller finds nothing left.
    const freed = channel ? channel.close() : node.stopWorker(decryptorAddress);
    freed.catch(() => {}).finally(() => reject(error));
  };
  const timeout = options.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = setTimeout(
    () => finish(new ChannelError("handshake-timeout", `no handshake reply within ${timeout} ms`)),
    timeout,
  );
  const onAbort = () => finish(new ChannelError("aborted", "the handshake was aborted"));
  options.signal?.addEventListener("abort", onAbort);

  node.startWorker(decryptorAddress, async (ctx) => {
    if (channel) return channel.receive(ctx);
    if (settled || !handshake) return;
    watch.answered();
    const { hs, payload } = handshake;
    try {
      // Message 2: the responder's e, s and identity payload.
      const peerPayload = await hs.readMessage(ctx.message.payload);
      const replyRoute = ctx.message.returnRoute;
      const responder = replyRoute.last;
      const remoteRoute = options.keepHandshakeRoute && responder
        ? Route.from(route).popBack().append(responder)
        : replyRoute;
      // Message 3 and the transport keys are computed while the responder is checked;
      // message 3 is sent only once it passed, and a refusal is reported before any
      // failure of ours.
      const verifying = verifyPeer(hs, peerPayload, options);
      const finishing = hs.writeMessage(payload).then(async (m) =>
        [m, await hs.splitWithKeys()] as const
      );
      finishing.catch(() => {});
      const peer = await verifying;
      const [message3, split] = await finishing;
      const [toResponder, toInitiator] = split.ciphers;
      split.keys[0].fill(0);
      if (settled) return split.keys[1].fill(0), undefined;
      const keys = { send: toResponder, receive: toInitiator, receiveBytes: split.keys[1] };
      const halves = await newTransport(options, keys, {
        node,
        role: "initiator",
        encryptorAddress,
        decryptorAddress,
        route: Route.from(remoteRoute),
        peer,
      });
      if (settled) return;
      channel = new SecureChannel({
        node,
        role: "initiator",
        encryptorAddress,
        decryptorAddress,
        remoteRoute,
        ...halves,
        peer,
        options,
      });
      handshake = undefined;
      await node.send(remoteRoute, message3, { from: decryptorAddress });
      finish();
    } catch (error) {
      finish(error);
    }
  }, {
    // The node closing (or anyone stopping the worker) ends a pending handshake, timer and all.
    onStop: () => finish(new ChannelError("closed", "the handshake's worker was stopped")),
  });
  watch.start(decryptorAddress, finish);
  // Message 1: e, with the empty payload Ockam sends.
  handshake.hs.writeMessage(new Uint8Array())
    // The decryptor becomes a consumer of the flow the route leads into (a connection's),
    // so message 2 and the peer's frames reach it.
    .then(async (message1) => {
      const resolved = await watch.resolve();
      if (settled) return;
      await node.send(resolved, message1, { from: decryptorAddress, receiveReplies: true });
    })
    .catch(finish);
  return promise;
}
