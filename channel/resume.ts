/**
 * Channels that survive a crash or reboot without a new handshake: a channel opened with
 * the `resume` option persists its state (see `channel_state.ts`), and after a restart
 * {@linkcode resumeSecureChannels} brings it back at the same addresses with the same
 * keys, so the peer, which knows nothing of the restart, goes on with the same channel:
 * nothing on the wire changes.
 *
 * Guarantees, whenever the process dies (SIGKILL included):
 *
 * - no (key, nonce) pair is ever used twice: nonces are reserved in blocks of
 *   `reserveEpochs * 32` (default 128) and a reservation is written before any nonce of it
 *   is used; a resumed channel sends from the reserved bound on (the peer sees a gap it
 *   accepts, up to its `maxEpochsAhead`);
 * - no frame delivered before the crash is delivered again (a relay replaying it): a frame
 *   is delivered only once a receive floor at or above its nonce is written, and a resumed
 *   channel refuses every nonce up to the floor.
 *
 * Limits: frames the peer sent that were not delivered yet (in flight, or authenticated but
 * not handed on when the process died) may be lost; the reliable-delivery layer (`delivery/`)
 * sends such messages again. A responder resumes on the route it opened with (its first hops
 * are usually gone) and follows its peer's next frame, holding its own frames until then (as
 * after any route loss, within `routeLossGrace`). The peer's credentials are those persisted
 * with the state's last write. A closed channel deletes its state.
 *
 * @module
 */
import { ChannelError } from "../errors.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { Node } from "../routing/node.ts";
import { Route, type RouteLike } from "../routing/route.ts";
import type { ChannelState, ChannelStateStore } from "./channel_state.ts";
import { SecureChannel } from "./secure_channel.ts";
import type { SecureChannelListener } from "./secure_channel_listener.ts";
import type { SecureChannelOptions } from "./secure_channel_options.ts";
import { resumedTransport } from "./_resumable.ts";

/** Options of {@linkcode resumeSecureChannels}: those the channels were opened with, and where. */
export interface ResumeSecureChannelsOptions extends Omit<SecureChannelOptions, "resume"> {
  /** Where the channels' states are (the `resume` store they were opened with). */
  store: ChannelStateStore;
  /**
   * The listener responders belong to (its flow spawns theirs; they are listed in its
   * `channels`); only responders of a listener at the same address are resumed. Without
   * it, no responder is resumed.
   */
  listener?: SecureChannelListener;
  /**
   * Resume initiators too, on the route this returns for the persisted one (a route's first
   * hop is usually a connection gone with the old process). Without it, no initiator is
   * resumed.
   */
  initiatorRoute?: (persisted: Route) => RouteLike;
  /** Flows the resumed channels' frames arrive on (a responder also gets its listener's). */
  consumes?: readonly Flow[];
}

/** What {@linkcode resumeSecureChannels} did. */
export interface ResumedChannels {
  /** The channels running again. */
  channels: SecureChannel[];
  /** Ids listed in the store with no state left (a crash between two writes), now unlisted. */
  removed: string[];
}

/**
 * Recreates the channels whose states are in `options.store` (those of this identity and of
 * the roles asked for), each at its own addresses with its keys, reservation and floor; the
 * peer goes on without a handshake. Every state is read and checked before any channel
 * starts: a corrupt one (`ChannelError` `corrupt-state`), one of another identity
 * (`wrong-identity`) or one whose addresses are taken on `node` (`already-running`) fails
 * the call, and nothing is left running.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   ChannelStateStore, createSecureChannelListener, resumeSecureChannels,
 * } from "@sealroute/sealroute/channel";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { MemoryKeyStore, Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const store = new ChannelStateStore(new MemoryKeyStore());
 * const options = { identity: await createIdentity(new Vault()), resume: store };
 * const listener = await createSecureChannelListener(node, "api", options);
 * const { channels } = await resumeSecureChannels(node, { ...options, store, listener });
 * assert.equal(channels.length, 0);
 * ```
 */
export async function resumeSecureChannels(
  node: Node,
  options: ResumeSecureChannelsOptions,
): Promise<ResumedChannels> {
  const { store, listener, initiatorRoute, consumes, ...rest } = options;
  const channelOptions: SecureChannelOptions = { ...rest, resume: store };
  const found: { id: string; state: ChannelState }[] = [];
  const missing: string[] = [];
  for (const id of await store.ids()) {
    const state = await store.load(id);
    if (!state) {
      missing.push(id);
      continue;
    }
    const wanted = state.role === "responder"
      ? listener !== undefined && state.listener?.equals(listener.address) === true
      : initiatorRoute !== undefined;
    if (!wanted) {
      state.send.key.fill(0);
      state.receive.key.fill(0);
      continue;
    }
    if (state.identifier !== options.identity.identifier) {
      throw new ChannelError("wrong-identity", `channel state '${id}' belongs to another identity`);
    }
    for (const address of [state.encryptorAddress, state.decryptorAddress]) {
      if (node.hasWorker(address)) {
        throw new ChannelError("already-running", `channel state '${id}' is in use on this node`);
      }
    }
    found.push({ id, state });
  }
  const channels: SecureChannel[] = [];
  try {
    for (const { id, state } of found) {
      channels.push(
        await resume(node, channelOptions, { id, state, listener, initiatorRoute, consumes }),
      );
    }
  } catch (error) {
    // Stopped, not closed: their states stay for another try.
    await Promise.allSettled(
      channels.flatMap((c) => [node.stopWorker(c.address), node.stopWorker(c.remoteAddress)]),
    );
    throw error;
  }
  for (const id of missing) await store.delete(id);
  return { channels, removed: missing };
}

async function resume(
  node: Node,
  options: SecureChannelOptions,
  how: {
    id: string;
    state: ChannelState;
    listener: SecureChannelListener | undefined;
    initiatorRoute: ((persisted: Route) => RouteLike) | undefined;
    consumes: readonly Flow[] | undefined;
  },
): Promise<SecureChannel> {
  const { state, listener } = how;
  const halves = await resumedTransport(options, state, { node, id: how.id });
  const responder = state.role === "responder";
  const route = responder ? state.route : Route.from(how.initiatorRoute!(state.route));
  let channel: SecureChannel | undefined;
  const flows = [
    ...(responder && listener ? node.flowControls.consumedFlows(listener.address) : []),
    ...(how.consumes ?? []),
  ];
  // Frames that arrive before the channel exists are not possible: it is made just below,
  // before anything awaits.
  node.startWorker(state.decryptorAddress, (ctx) => channel?.receive(ctx), { consumes: flows });
  try {
    channel = new SecureChannel({
      node,
      role: state.role,
      encryptorAddress: state.encryptorAddress,
      decryptorAddress: state.decryptorAddress,
      remoteRoute: route,
      ...halves,
      peer: state.peer,
      options,
      ...(responder && listener ? { spawner: listener.flow } : {}),
    });
  } catch (error) {
    await node.stopWorker(state.decryptorAddress);
    throw error;
  }
  if (responder && listener) listener.add(channel);
  return channel;
}
