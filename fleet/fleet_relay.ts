/**
 * A relay node as a member of a fleet: names claimed fleet-wide, frames for a device at
 * another relay carried over NATS links, queues in JetStream.
 *
 * @module
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Flow } from "../routing/flow_controls.ts";
import {
  Address,
  encodeTransportMessage,
  joinLinks,
  type Node,
  noticeRefusal,
  type RelayArbiter,
  RelayQueue,
  type RelayQueueOptions,
  type RelayService,
  Route,
} from "../routing/mod.ts";
import type { Connection } from "../transport/connection.ts";
import type { LivenessOptions } from "../transport/liveness.ts";
import { JetStreamRelayQueueStore } from "./jetstream_queue_store.ts";
import { connectNatsLink, type NatsLinkClient } from "./nats_link.ts";
import { FleetRegistry, type NameRecord } from "./registry.ts";

/** Options for {@linkcode Fleet.join}. */
export interface FleetOptions {
  /** The node the relay service runs on. */
  node: Node;
  /** A connection to the fleet's NATS cluster (`FleetClient.connect` in `fleet/deno` opens one). */
  nats: NatsLinkClient;
  /** This relay's name in the fleet: 1-64 of `[A-Za-z0-9_-]`, unique in the fleet. */
  name: string;
  /**
   * The flows the relay's workers consume (its listeners' and channel listener's): what
   * arrives on them may be carried to another relay.
   */
  flows: readonly Flow[];
  /** Replicas of the registry and the queue stream (3 on a 3-node cluster). Default 1. */
  replicas?: number;
  /** Bounds of the store-and-forward queue (kept in JetStream). */
  queue?: Omit<RelayQueueOptions, "store">;
  /** How long a relay counts as alive after it last said so, in ms. Default 6,000. */
  nodeTtl?: number;
  /** Heartbeats and dead-link time of the NATS links between relays. Default 1 s / 4 s. */
  liveness?: LivenessOptions;
}

/** A relay's membership of a fleet; see {@linkcode Fleet.join}. */
export interface FleetMember extends AsyncDisposable {
  /** The flow messages from other relays arrive on: the relay service must consume it. */
  readonly flow: Flow;
  /** The store-and-forward queue, kept in JetStream: give it to the relay service. */
  readonly queue: RelayQueue;
  /** Give it to the relay service: claims go through the fleet's registry. */
  readonly arbiter: RelayArbiter;
  /** The registry (names, holders, relay nodes). */
  readonly registry: FleetRegistry;
  /** The relays this one has a live link to, by name. */
  links(): string[];
  /** Starts serving: call once with the relay service started with `arbiter` and `queue`. */
  attach(service: RelayService): Promise<void>;
  /** Leaves the fleet: links closed, registry and queue released (the stream keeps its frames). */
  close(): Promise<void>;
}

/** Least time between two `held` notices for one name, in ms. */
const HELD_NOTICE_INTERVAL = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where relay `node` hears that frames for one of its names were stored in the stream. */
function noticeSubject(node: string): string {
  return `sealroute.queued.${node}`;
}

/** Relay fleets; see {@linkcode Fleet.join}. */
export class Fleet {
  private constructor() {}

  /**
   * Joins a relay fleet over `options.nats` and `jetstream` (a JetStream client over the same
   * connection). Use it in three steps: join, start the relay
   * service with the member's `arbiter`, `queue` and `flow` (in `consumes`), then `attach`.
   *
   * - A registration is claimed in the fleet's registry before the relay service claims it
   *   here: one identity holds a name across every relay; the same identity moves it.
   * - Every other relay serves the name with a stand-in worker at the same address that
   *   carries frames over the NATS link to the holder's relay (so a client reaches a device
   *   through whichever relay it dialled), or, while that relay is unreachable, stores them in
   *   the name's JetStream queue (refusals as on one relay).
   * - The queue lives in JetStream: when the holder registers again at any relay, that relay
   *   loads what waits and forwards it, in order, before new frames.
   *
   * Frames stay as the sender sealed them: relays and NATS see routing and ciphertext.
   *
   * @throws {TransportError} code `fleet-unavailable` when JetStream does not answer.
   * @example
   * ```ts ignore
   * // With fleet/deno: const fleet = await FleetClient.connect(urls); fleet.join({ ... }).
   * const member = await Fleet.join({ node, nats, name: "relay-a", flows }, jetstream);
   * const service = startRelayService(node, {
   *   consumes: [...flows, member.flow], queue: member.queue, arbiter: member.arbiter,
   * });
   * await member.attach(service);
   * ```
   */
  static join(options: FleetOptions, jetstream: JetStreamClient): Promise<FleetMember> {
    return joinFleet(options, jetstream);
  }
}

async function joinFleet(
  options: FleetOptions,
  jetstream: JetStreamClient,
): Promise<FleetMember> {
  const { node, nats } = options;
  const me = options.name;
  const log = node.logger;
  const js = jetstream;
  const jsm = await js.jetstreamManager();
  const replicas = options.replicas ?? 1;
  const registry = await FleetRegistry.open(js, {
    node: me,
    replicas,
    ...(options.queue?.maxAge ? { nameTtl: options.queue.maxAge } : {}),
    ...(options.nodeTtl ? { nodeTtl: options.nodeTtl } : {}),
  });
  const q = options.queue ?? {};
  const store = await JetStreamRelayQueueStore.open(js, jsm, {
    replicas,
    ...(q.maxPerName ? { maxPerName: q.maxPerName } : {}),
    ...(q.maxTotal ? { maxTotal: q.maxTotal } : {}),
    ...(q.maxTotalBytes ? { maxTotalBytes: q.maxTotalBytes } : {}),
    ...(q.maxBytesPerName ? { maxFrameBytes: q.maxBytesPerName } : {}),
    ...(q.maxAge ? { maxAge: q.maxAge } : {}),
    onError: (error) => log.debug("fleet queue: a stream write failed", { error }),
  });
  // No more per name here than the fleet's stream keeps.
  const queue = new RelayQueue({
    ...q,
    store,
    maxPerName: Math.min(q.maxPerName ?? store.maxPerName, store.maxPerName),
  });
  const flow = node.flowControls.createFlow({ label: "fleet" });
  const consumes = [...options.flows, flow];
  const links = new Map<string, { boot: string; link: Connection }>();
  const standIns = new Set<string>();
  const heldTold = new Map<string, number>();
  let service: RelayService | undefined;
  let closed = false;
  const timers: ReturnType<typeof setTimeout>[] = [];

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.splice(timers.indexOf(timer), 1);
      if (!closed) fn();
    }, ms);
    timers.push(timer);
  };

  /** Loads what waits for `name` in the stream into the relay's queue; forwards it if online. */
  const loadQueued = async (name: string, identity: string): Promise<number> => {
    const added = await store.load(name, identity);
    if (added) {
      queue.resync(name);
      service?.hold(name, identity);
      service?.drain(name);
      log.info("fleet queue loaded", { relay: name, frames: added });
    }
    return added;
  };

  const stopStandIn = async (name: string): Promise<void> => {
    if (!standIns.delete(name)) return;
    await node.stopWorker(name);
  };

  const startStandIn = (name: string): void => {
    if (standIns.has(name) || node.hasWorker(name)) return;
    const address = Address.local(name);
    standIns.add(name);
    node.startWorker(address, async (ctx) => {
      const record = registry.lookup(name);
      const message = ctx.message;
      try {
        const link = record ? links.get(record.node)?.link : undefined;
        if (record && link) {
          const onward = message.onwardRoute.popFront().prepend(
            Route.from([link.address, address]),
          );
          joinLinks(node, message.returnRoute.next, link.address);
          await ctx.forward(message.with({ onwardRoute: onward }));
          return;
        }
        if (!record) {
          noticeRefusal(node, message, ctx.flow, { code: "unknown-address", address });
          return;
        }
        // The holder's relay is unreachable: the frame waits in the name's stream.
        const frame = message.with({ onwardRoute: message.onwardRoute.popFront() });
        const refused = await store.offer(name, record.identity, encodeTransportMessage(frame));
        // If the holder's relay is alive (only our link to it is not up yet), it loads it.
        if (!refused) nats.publish(noticeSubject(record.node), encoder.encode(name));
        const now = Date.now();
        if (refused || now - (heldTold.get(name) ?? 0) >= HELD_NOTICE_INTERVAL) {
          if (!refused) heldTold.set(name, now);
          noticeRefusal(node, message, ctx.flow, { code: refused ?? "held", address });
        }
      } catch (error) {
        log.debug("fleet: frame not carried", { relay: name, error });
      }
    }, { consumes, onStop: () => void standIns.delete(name) });
  };

  /** Follows a record change: a name held elsewhere gets a stand-in here. */
  const follow = (name: string, record: NameRecord | undefined): void => {
    if (!service || closed) return;
    if (!record) {
      void stopStandIn(name);
      return;
    }
    if (record.node === me) return;
    const local = service.registrations().some((r) => r.relay === name);
    void (async () => {
      if (local) {
        log.info("fleet: name moved to another relay", { relay: name, to: record.node });
        await service!.release(name);
      }
      startStandIn(name);
    })().catch((error) => log.debug("fleet: name not followed", { relay: name, error }));
  };

  const arbiter: RelayArbiter = {
    async claim(name, identity) {
      const refused = await registry.claim(name, identity);
      if (refused !== undefined) return refused;
      await stopStandIn(name);
      // Frames queued for the name anywhere in the fleet come here first; what other relays
      // store while they learn of the move is picked up once more shortly after.
      await loadQueued(name, identity!);
      later(1000, () => void loadQueued(name, identity!).catch(() => {}));
      return undefined;
    },
  };

  const linkTo = (peer: string, boot: string): void => {
    const link = connectNatsLink(node, nats, {
      from: me,
      to: peer,
      spawner: flow,
      consumes,
      heartbeatInterval: options.liveness?.heartbeatInterval ?? 1000,
      deadAfter: options.liveness?.deadAfter ?? 4000,
      expectHeartbeats: true,
    });
    links.set(peer, { boot, link });
    void link.closed.then((reason) => {
      if (links.get(peer)?.link === link) links.delete(peer);
      if (!closed) log.info("fleet link closed", { peer, reason: String(reason) });
    });
  };

  /** Links to every live relay; a relay that restarted (new boot id) gets a new link. */
  const refreshLinks = async (): Promise<void> => {
    const alive = await registry.nodes();
    for (const [peer, boot] of alive) {
      if (peer === me) continue;
      const current = links.get(peer);
      if (current && current.boot === boot) continue;
      if (current) await current.link.close();
      linkTo(peer, boot);
    }
  };

  const tick = (): void => {
    later(1000, () => {
      void refreshLinks().catch((error) => log.debug("fleet: links not refreshed", { error }))
        .finally(tick);
    });
  };

  // The records of holders online here are written again before they expire.
  const touchEvery = Math.max(1000, Math.floor((q.maxAge ?? 3_600_000) / 3));
  const touch = (): void => {
    later(touchEvery, () => {
      const online = service?.registrations().filter((r) => r.online) ?? [];
      void Promise.all(online.map((r) => registry.touch(r.relay).catch(() => {}))).finally(touch);
    });
  };

  // Frames another relay stored in the stream for a name held here: load them (one load per
  // name at a time; a notice about a name not held here is ignored).
  const loading = new Set<string>();
  const notices = nats.subscribe(noticeSubject(me), {
    callback: (_error, message) => {
      const name = message.data.length <= 256 ? decoder.decode(message.data) : "";
      const record = registry.lookup(name);
      if (!record || record.node !== me || loading.has(name)) return;
      loading.add(name);
      void loadQueued(name, record.identity).catch(() => {}).finally(() => loading.delete(name));
    },
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    notices.unsubscribe();
    for (const timer of timers) clearTimeout(timer);
    await Promise.all([...standIns].map((name) => node.stopWorker(name)));
    await Promise.all([...links.values()].map(({ link }) => link.close()));
    links.clear();
    await store.flush();
    await registry.close();
  };

  return {
    flow,
    queue,
    arbiter,
    registry,
    links: () => [...links.keys()],
    async attach(relayService) {
      service = relayService;
      registry.onChange(follow);
      // Names held here when this relay last ran are held again (their frames loaded);
      // names held elsewhere get stand-ins.
      for (const [name, record] of [...registry.entries()]) {
        if (record.node === me) {
          service.hold(name, record.identity);
          await loadQueued(name, record.identity);
        } else {
          startStandIn(name);
        }
      }
      await refreshLinks();
      tick();
      touch();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
