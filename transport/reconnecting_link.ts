/**
 * A link that heals: a stable local address and flow in front of a connection that is
 * dialled again, with exponential backoff and full jitter, whenever it is lost. Routes,
 * channels and relays bound to the link's address keep working across reconnects; what is
 * sent while the link is down waits in the link's bounded mailbox.
 *
 * @module
 */
import { type Deferred, deferred } from "../_deferred.ts";
import { Pause } from "../_pause.ts";
import { TransportError } from "../errors.ts";
import { Address, type Flow, type Node, Route, type WorkerContext } from "../routing/mod.ts";
import type { Connection } from "./connection.ts";

/** Backoff and give-up limits of a {@linkcode ReconnectingLink}. */
export interface ReconnectOptions {
  /** First retry delay bound, in ms. Default 100. */
  initialDelay?: number;
  /** Largest retry delay bound, in ms. Default 10 000. */
  maxDelay?: number;
  /**
   * How long the link may stay down before it gives up, in ms (then it stops with
   * `TransportError` `gave-up`, and channels through it close with `route-lost`).
   * Default 300 000 (5 minutes). A connection lost with `wrong-protocol` (the port answered
   * in HTTP) is not redialled: the link stops at once with that error.
   */
  giveUpAfter?: number;
  /** Attempts in a row before giving up. Default: unbounded (`giveUpAfter` decides). */
  maxAttempts?: number;
  /** Messages that may wait while the link is down. Default 1024. */
  maxQueued?: number;
  /** Bytes that may wait while the link is down. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Random numbers in [0, 1) for the jitter (tests pass a seeded one). Default `Math.random`. */
  random?: () => number;
}

/** What happens to a link, in order: observe it with {@linkcode ReconnectingLink.on}. */
export type LinkEvent =
  | { type: "connected"; attempt: number; peer: string }
  | { type: "lost"; reason: Error; peer: string }
  | { type: "reconnecting"; attempt: number; delay: number; peer: string }
  | { type: "gave-up"; reason: Error; peer: string };

/** Dials one connection for the link: it must use `replyAddress` and `spawner`. */
export type Dial = (how: { replyAddress: Address; spawner: Flow }) => Promise<Connection>;

/**
 * A {@linkcode Dial} over several peers (a fleet's relays): each dial tries them in turn,
 * starting with the one that answered last, and fails with the last error only when none
 * answers. So a link whose peer died comes back through another.
 *
 * @throws {RangeError} for an empty `peers`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Address, Node } from "@sealroute/sealroute/routing";
 * import { attachDuplex, dialAny, memoryDuplexPair } from "@sealroute/sealroute/transport";
 *
 * await using node = new Node();
 * const tried: string[] = [];
 * const dial = dialAny(["down", "up"], async (peer, how) => {
 *   tried.push(peer);
 *   if (peer === "down") throw new Error("refused");
 *   return attachDuplex(node, memoryDuplexPair()[0], how);
 * });
 * const connection = await dial({ replyAddress: Address.random(), spawner: node.flowControls.createFlow() });
 * assert.deepEqual(tried, ["down", "up"]);
 * await connection.close();
 * ```
 */
export function dialAny(
  peers: readonly string[],
  open: (peer: string, how: Parameters<Dial>[0]) => Promise<Connection>,
): Dial {
  if (peers.length === 0) throw new RangeError("dialAny needs at least one peer");
  let current = 0;
  return async (how) => {
    let last: unknown;
    for (let i = 0; i < peers.length; i++) {
      const index = (current + i) % peers.length;
      try {
        const connection = await open(peers[index]!, how);
        current = index;
        return connection;
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };
}

/** A {@linkcode Connection} that is dialled again when lost. */
export interface ReconnectingLink extends Connection {
  /** Whether a connection is up now. */
  readonly connected: boolean;
  /** Reconnects so far (not counting the first connection). */
  readonly reconnects: number;
  /** Calls `listener` with every event; returns a function that stops it. */
  on(listener: (event: LinkEvent) => void): () => void;
}

const DEFAULTS = {
  initialDelay: 100,
  maxDelay: 10_000,
  giveUpAfter: 300_000,
  maxAttempts: Infinity,
  maxQueued: 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
};

/**
 * Opens a link through `dial`, resolving once the first connection is up (its failure
 * rejects: a wrong address is not retried), and redials whenever that connection is lost.
 *
 * @example A link that comes back after its connection is cut
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 * import { attachDuplex, memoryDuplexPair, reconnectingLink } from "@sealroute/sealroute/transport";
 *
 * await using client = new Node();
 * await using server = new Node();
 * const serverFlow = server.flowControls.createFlow();
 * startEcho(server, { consumes: [serverFlow] });
 * let cut = () => {};
 * const link = await reconnectingLink(client, async ({ replyAddress, spawner }) => {
 *   const [a, b] = memoryDuplexPair();
 *   attachDuplex(server, b, { spawner: serverFlow });
 *   cut = () => void a.close();
 *   return attachDuplex(client, a, { replyAddress, spawner });
 * }, { initialDelay: 5, peer: "server" });
 * const back = new Promise((resolve) => link.on((e) => e.type === "connected" && resolve(e)));
 * cut(); // what is sent before the loss is noticed may be lost; what is sent after waits
 * await back;
 * const reply = await client.request(link.route.append("echo"), new Uint8Array([1]), { timeout: 2000 });
 * assert.equal(reply.payload[0], 1);
 * assert.equal(link.reconnects, 1);
 * await link.close();
 * ```
 */
export async function reconnectingLink(
  node: Node,
  dial: Dial,
  options: ReconnectOptions & { peer?: string } = {},
): Promise<ReconnectingLink> {
  const link = new Link(node, dial, options);
  await link.start();
  return link;
}

class Link implements ReconnectingLink {
  readonly address: Address;
  readonly route: Route;
  readonly flow: Flow;
  readonly closed: Promise<Error>;
  readonly #node: Node;
  readonly #dial: Dial;
  readonly #options: typeof DEFAULTS & { random: () => number };
  readonly #peer: string;
  readonly #listeners = new Set<(event: LinkEvent) => void>();
  #current: Connection | undefined;
  #up: Deferred<Connection> = deferred();
  #reconnects = 0;
  #stopped = false;
  readonly #pause = new Pause();
  #resolveClosed!: (reason: Error) => void;

  constructor(node: Node, dial: Dial, options: ReconnectOptions & { peer?: string }) {
    this.#node = node;
    this.#dial = dial;
    this.#options = {
      initialDelay: options.initialDelay ?? DEFAULTS.initialDelay,
      maxDelay: options.maxDelay ?? DEFAULTS.maxDelay,
      giveUpAfter: options.giveUpAfter ?? DEFAULTS.giveUpAfter,
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
      maxQueued: options.maxQueued ?? DEFAULTS.maxQueued,
      maxQueuedBytes: options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes,
      random: options.random ?? Math.random,
    };
    this.address = Address.random();
    this.#peer = options.peer ?? this.address.toString();
    this.route = new Route([this.address]);
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#up.promise.catch(() => {});
    // The link's mailbox is the queue of what waits while the link is down.
    node.startWorker(this.address, (ctx) => this.#forward(ctx), {
      mailboxCapacity: this.#options.maxQueued,
      mailboxBytes: this.#options.maxQueuedBytes,
      onStop: (reason) => this.#stop(reason),
    });
    this.flow = node.flowControls.createFlow({ label: `link ${this.#peer}` });
    node.flowControls.addProducer(this.address, this.flow);
  }

  get connected(): boolean {
    return this.#current !== undefined;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  on(listener: (event: LinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    let connection: Connection;
    try {
      connection = await this.#dial({ replyAddress: this.address, spawner: this.flow });
    } catch (error) {
      await this.#node.stopWorker(this.address, error instanceof Error ? error : undefined);
      throw error;
    }
    this.#attach(connection, 0);
  }

  close(): Promise<void> {
    return this.#node.stopWorker(
      this.address,
      new TransportError("connection-closed", `link to ${this.#peer} closed locally`),
    ).then(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #forward(ctx: WorkerContext): Promise<void> {
    const connection = this.#current ?? await this.#up.promise;
    const m = ctx.message;
    await this.#node.deliver(
      m.with({ onwardRoute: m.onwardRoute.popFront().prepend(connection.address) }),
      { from: this.address },
    );
  }

  #attach(connection: Connection, attempt: number): void {
    this.#current = connection;
    this.#up.resolve(connection);
    this.#emit({ type: "connected", attempt, peer: this.#peer });
    void connection.closed.then((reason) => this.#lost(connection, reason));
  }

  async #lost(connection: Connection, reason: Error): Promise<void> {
    if (this.#current !== connection) return;
    this.#current = undefined;
    this.#up = deferred();
    this.#up.promise.catch(() => {});
    if (this.#stopped) return;
    this.#emit({ type: "lost", reason, peer: this.#peer });
    // A peer speaking another protocol (an HTTP port) will not speak Ockam's on a redial.
    if (reason instanceof TransportError && reason.code === "wrong-protocol") {
      this.#emit({ type: "gave-up", reason, peer: this.#peer });
      await this.#node.stopWorker(this.address, reason);
      return;
    }
    const since = Date.now();
    const o = this.#options;
    let last: Error = reason;
    for (let attempt = 1; !this.#stopped; attempt++) {
      const elapsed = Date.now() - since;
      if (attempt > o.maxAttempts || elapsed >= o.giveUpAfter) {
        const gaveUp = new TransportError(
          "gave-up",
          `gave up reconnecting to ${this.#peer} after ${attempt - 1} attempts in ${elapsed} ms`,
          { cause: last },
        );
        this.#emit({ type: "gave-up", reason: gaveUp, peer: this.#peer });
        await this.#node.stopWorker(this.address, gaveUp);
        return;
      }
      // Full jitter: a delay drawn uniformly below the exponential bound.
      const bound = Math.min(o.maxDelay, o.initialDelay * 2 ** (attempt - 1));
      const delay = Math.min(Math.floor(o.random() * bound), o.giveUpAfter - elapsed);
      this.#emit({ type: "reconnecting", attempt, delay, peer: this.#peer });
      await this.#pause.sleep(delay);
      if (this.#stopped) return;
      try {
        const next = await this.#dial({ replyAddress: this.address, spawner: this.flow });
        if (this.#stopped) {
          await next.close();
          return;
        }
        this.#reconnects++;
        this.#attach(next, attempt);
        return;
      } catch (error) {
        last = error instanceof Error ? error : new Error(String(error));
      }
    }
  }

  async #stop(reason: Error | undefined): Promise<void> {
    this.#stopped = true;
    this.#pause.wake();
    const why = reason ?? new TransportError("connection-closed", `link to ${this.#peer} closed`);
    this.#up.reject(why);
    const current = this.#current;
    this.#current = undefined;
    await current?.close();
    this.#resolveClosed(why);
  }

  #emit(event: LinkEvent): void {
    const fields: Record<string, unknown> = { peer: this.#peer };
    if ("attempt" in event) fields.attempt = event.attempt;
    if ("delay" in event) fields.delay = event.delay;
    if ("reason" in event) fields.reason = event.reason.message;
    const level = event.type === "connected" ? "info" : event.type === "gave-up" ? "error" : "warn";
    this.#node.logger[level](`link ${event.type}`, fields);
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#node.logger.error("link event listener failed", { error });
      }
    }
  }
}
