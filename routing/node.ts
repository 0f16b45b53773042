import { RouteError, SealrouteError } from "../errors.ts";
import { Address, type AddressLike } from "./address.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type Flow, FlowControls } from "./flow_controls.ts";
import { Route, type RouteLike } from "./route.ts";
import { type LocalInfo, RoutedMessage } from "./routed_message.ts";
import { keyOf, messageSize, WorkerRecord } from "./_worker_record.ts";
import {
  answerUndeliverable,
  subscribeUndeliverable,
  type UndeliverableListener,
} from "./undeliverable.ts";
import {
  DEFAULT_MAILBOX_BYTES,
  DEFAULT_MAILBOX_CAPACITY,
  DEFAULT_REQUEST_TIMEOUT,
  type DeliverOptions,
  type NodeOptions,
  type RequestOptions,
  type SendOptions,
  type StopListener,
  type TransportHandler,
  type WorkerOptions,
} from "./node_options.ts";

/** What a worker's handler receives for each message. */
export interface WorkerContext {
  /** The message; its onward route still starts with this worker's address. */
  readonly message: RoutedMessage;
  /** This worker's address. */
  readonly address: Address;
  /** The node the worker runs on. */
  readonly node: Node;
  /**
   * The flow the message arrived on (a connection's, a channel's), or `undefined` for a
   * local message. A worker that passes messages on should pass it too
   * (`node.deliver(m, { flow: ctx.flow })`) unless it means to open the way further.
   */
  readonly flow: Flow | undefined;
  /**
   * Sends `payload` to the message's return route, from this worker (return route
   * `[address]`). Fails fast like {@linkcode Node.send}.
   */
  reply(payload: Uint8Array, options?: { localInfo?: LocalInfo }): Promise<void>;
  /** Sends from this worker: return route defaults to `[address]`, outgoing hook applies. */
  send(route: RouteLike, payload: Uint8Array, options?: Omit<SendOptions, "from">): Promise<void>;
  /** Passes a message on with its routes as they are, waiting for mailbox room; outgoing hook applies. */
  forward(message: RoutedMessage): Promise<void>;
}

/** A worker's message handler; handlers of one worker run one at a time, in arrival order. */
export type WorkerHandler = (context: WorkerContext) => void | Promise<void>;

/** How a message enters routing: the flow it arrived on, who waits for replies. */
interface RouteOptions {
  /** Wait for mailbox room instead of failing with `mailbox-full`. */
  wait: boolean;
  /** The flow the message arrived on: only its consumers may receive it. */
  flow?: Flow | undefined;
  /** Becomes a consumer of the flow the first hop leads into (a reply worker). */
  consumer?: Address | undefined;
}

class Context implements WorkerContext {
  readonly message: RoutedMessage;
  readonly address: Address;
  readonly node: Node;
  readonly flow: Flow | undefined;

  constructor(message: RoutedMessage, address: Address, node: Node, flow: Flow | undefined) {
    this.message = message;
    this.address = address;
    this.node = node;
    this.flow = flow;
  }

  reply(payload: Uint8Array, options: { localInfo?: LocalInfo } = {}): Promise<void> {
    return this.node.send(this.message.returnRoute, payload, { ...options, from: this.address });
  }

  send(
    route: RouteLike,
    payload: Uint8Array,
    options: Omit<SendOptions, "from"> = {},
  ): Promise<void> {
    return this.node.send(route, payload, { ...options, from: this.address });
  }

  forward(message: RoutedMessage): Promise<void> {
    return this.node.deliver(message, { from: this.address });
  }
}

/**
 * A router with a registry of workers, each with a bounded mailbox.
 *
 * Delivery follows Ockam's hop-by-hop model (OCKAM_WIRE §1): a message goes to the worker
 * named by the first address of its onward route; a route starting with a non-local
 * address (`1#host:port`) is handed to the transport registered for that type, which
 * replaces that address with its connection's local sender worker.
 *
 * Ockam's wire has no error frame: a message lost past the first hop (a refused access
 * check on the far node, a dropped connection further along) is only visible to a
 * {@linkcode Node.request} as a `timeout`. An unknown address on a far Sealroute node is
 * answered with an undeliverable notice ({@linkcode Node.onUndeliverable}).
 *
 * @example Echo round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, startEcho } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * startEcho(node);
 * const reply = await node.request("echo", new TextEncoder().encode("hi"), { timeout: 1000 });
 * assert(new TextDecoder().decode(reply.payload) === "hi");
 * ```
 */
export class Node {
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #transports = new Map<number, TransportHandler>();
  readonly #closeHooks = new Set<() => void | Promise<void>>();
  readonly #flows = new FlowControls();
  readonly #logger: Logger;
  readonly #capacity: number;
  readonly #maxBytes: number;
  #closing: Promise<void> | undefined;

  /**
   * Creates a node with no workers.
   *
   * @example
   * ```ts
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node({ mailboxCapacity: 64 });
   * ```
   */
  constructor(options: NodeOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#capacity = options.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.#maxBytes = options.mailboxBytes ?? DEFAULT_MAILBOX_BYTES;
    positiveInteger("mailboxCapacity", this.#capacity);
    positiveInteger("mailboxBytes", this.#maxBytes);
  }

  /**
   * Which workers messages from outside may reach (see {@linkcode FlowControls}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const flow = node.flowControls.createFlow();
   * node.flowControls.addConsumer("api", flow);
   * assert(node.flowControls.isConsumer("api", flow));
   * ```
   */
  get flowControls(): FlowControls {
    return this.#flows;
  }

  /**
   * The node's logger (for transports and services running on it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node, silentLogger } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(node.logger === silentLogger);
   * ```
   */
  get logger(): Logger {
    return this.#logger;
  }

  /**
   * Whether {@linkcode Node.close} has been called.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * const node = new Node();
   * await node.close();
   * assert(node.closed);
   * ```
   */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Starts a worker at a local address and returns that address.
   *
   * @throws {RouteError} code `address-in-use` or `closed`.
   * @throws {TypeError} for a non-local address.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   *
   * await using node = new Node();
   * const seen: string[] = [];
   * node.startWorker("printer", ({ message }) => {
   *   seen.push(new TextDecoder().decode(message.payload));
   * }, { incoming: (m) => m.payload.length < 100 });
   * await node.send("printer", new TextEncoder().encode("hello"));
   * await node.stopWorker("printer");
   * assert(seen[0] === "hello");
   * ```
   */
  startWorker(address: AddressLike, handler: WorkerHandler, options: WorkerOptions = {}): Address {
    const addr = Address.from(address);
    if (!addr.isLocal) throw new TypeError(`a worker needs a local address, got ${addr}`);
    if (this.#closing) throw new RouteError("closed", "the node is closed");
    const key = keyOf(addr);
    if (this.#workers.has(key)) {
      throw new RouteError("address-in-use", `a worker already runs at '${addr}'`);
    }
    const capacity = options.mailboxCapacity ?? this.#capacity;
    const maxBytes = options.mailboxBytes ?? this.#maxBytes;
    positiveInteger("mailboxCapacity", capacity);
    positiveInteger("mailboxBytes", maxBytes);
    const run = (message: RoutedMessage, flow: Flow | undefined) =>
      handler(new Context(message, addr, this, flow));
    this.#workers.set(key, new WorkerRecord(addr, run, options, { capacity, maxBytes }));
    for (const flow of options.consumes ?? []) this.#flows.addConsumer(addr, flow);
    this.#logger.debug("worker started", { address: addr.toString() });
    return addr;
  }

  /**
   * Whether a worker runs at `address`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(!node.hasWorker("nobody"));
   * ```
   */
  hasWorker(address: AddressLike): boolean {
    return this.#workers.has(keyOf(Address.from(address)));
  }

  /**
   * The addresses of the workers running now, for inspection and tests.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * node.startWorker("a", () => {});
   * assert.deepEqual(node.workerAddresses().map(String), ["a"]);
   * ```
   */
  workerAddresses(): Address[] {
    return [...this.#workers.values()].filter((w) => !w.stopped).map((w) => w.address);
  }

  /**
   * Resolves once the worker at `address` has handled every message its mailbox holds now
   * and later ones that arrive before it goes idle (at once if it is idle, or there is no
   * such worker). For a consumer of a lost link: what arrived before the loss is handled
   * before the loss is acted on.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const seen: number[] = [];
   * node.startWorker("slow", async (ctx) => {
   *   await new Promise((resolve) => setTimeout(resolve, 5));
   *   seen.push(ctx.message.payload[0]!);
   * });
   * for (const n of [1, 2, 3]) await node.send("slow", new Uint8Array([n]));
   * await node.drained("slow");
   * assert.deepEqual(seen, [1, 2, 3]);
   * ```
   */
  async drained(address: AddressLike): Promise<void> {
    const key = keyOf(Address.from(address));
    for (;;) {
      const record = this.#workers.get(key);
      if (!record || record.stopped || !record.running) return;
      await record.idle;
    }
  }

  /**
   * Stops a worker: drops its queued messages, tells stop listeners (with `reason`), waits
   * for its in-flight handler and its `onStop`. Returns false if no worker ran there.
   *
   * A handler must not await stopping its own worker (it would wait for itself).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * node.startWorker("w", () => {});
   * assert(await node.stopWorker("w"));
   * assert(!(await node.stopWorker("w")));
   * ```
   */
  async stopWorker(address: AddressLike, reason?: Error): Promise<boolean> {
    const record = this.#workers.get(keyOf(Address.from(address)));
    if (!record) return false;
    await this.#stop(record, reason);
    return true;
  }

  /**
   * Connection-closed notification: calls `listener` once when the worker at `address`
   * stops, with the stop reason. Transports stop a connection's sender worker with a
   * `TransportError` reason when the connection is lost, so watching a route's first hop
   * tells you when the link under it went away. If no worker runs there, `listener` is
   * called soon with `undefined`. Returns a function that cancels the subscription.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   *
   * await using node = new Node();
   * node.startWorker("link", () => {});
   * let why: Error | undefined;
   * node.onWorkerStopped("link", (reason) => why = reason);
   * await node.stopWorker("link", new Error("gone"));
   * assert(why?.message === "gone");
   * ```
   */
  onWorkerStopped(address: AddressLike, listener: StopListener): () => void {
    const record = this.#workers.get(keyOf(Address.from(address)));
    if (!record || record.stopped) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) listener(undefined);
      });
      return () => {
        cancelled = true;
      };
    }
    record.listeners.add(listener);
    return () => {
      record.listeners.delete(listener);
    };
  }

  /**
   * Undeliverable notification: calls `listener` when a far node answers a message sent by
   * the worker at `address` with a Sealroute undeliverable notice (the far node has no
   * worker at the address the message named; see `undeliverable.ts`). Only notices that
   * came over a connection this worker consumes reach it. Returns a function that
   * unsubscribes. Notices come from an untrusted peer: listen only while waiting for a
   * first answer (as a secure-channel initiator does), never to close what is open.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const unsubscribe = node.onUndeliverable("waiter", (event) => {
   *   assert.equal(event.code, "unknown-address");
   * });
   * unsubscribe();
   * ```
   */
  onUndeliverable(address: AddressLike, listener: UndeliverableListener): () => void {
    return subscribeUndeliverable(this, address, listener);
  }

  /**
   * Sends a payload along `route`; resolves once the next local hop accepted it.
   *
   * The payload is not copied: like a chunk written to a stream, it must not change until
   * it has gone out (a transport may write a large payload straight from it).
   *
   * Fails fast, without waiting: `RouteError` code `unknown-address` (no worker at the
   * first hop), `mailbox-full`, `refused` (incoming hook of the receiving worker or
   * outgoing hook of `from`), `empty-route`, `no-transport`, `closed`; a transport may
   * reject with a `TransportError` when it cannot connect.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * import { RouteError } from "@sealroute/sealroute/errors";
   *
   * await using node = new Node();
   * const err = await node.send("nowhere", new Uint8Array()).catch((e) => e);
   * assert(err instanceof RouteError && err.code === "unknown-address");
   * ```
   */
  send(route: RouteLike, payload: Uint8Array, options: SendOptions = {}): Promise<void> {
    try {
      const from = options.from === undefined ? undefined : Address.from(options.from);
      const returnRoute = options.returnRoute ?? (from ? [from] : Route.EMPTY);
      const message = new RoutedMessage({
        onwardRoute: route,
        returnRoute,
        payload,
        ...(options.localInfo ? { localInfo: options.localInfo } : {}),
      });
      const consumer = options.receiveReplies ? from : undefined;
      return this.#sendFrom(from, message, { wait: false, consumer }).then(() => {});
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Passes on a message with its routes as they are, waiting for mailbox room instead of
   * failing with `mailbox-full` (backpressure). Transports deliver what they read this way,
   * so a full mailbox pauses socket reads. Other failures are as for {@linkcode Node.send}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node, RoutedMessage } from "@sealroute/sealroute/routing";
   *
   * await using node = new Node();
   * let count = 0;
   * node.startWorker("sink", () => { count++; }, { mailboxCapacity: 2 });
   * for (let i = 0; i < 10; i++) {
   *   await node.deliver(new RoutedMessage({ onwardRoute: "sink" }));
   * }
   * await node.stopWorker("sink");
   * assert(count >= 8);
   * ```
   */
  deliver(message: RoutedMessage, options: DeliverOptions = {}): Promise<void> {
    try {
      const from = options.from === undefined ? undefined : Address.from(options.from);
      const flow = options.flow;
      const routed = this.#sendFrom(from, message, { wait: true, flow }).then(() => {});
      if (!flow) return routed;
      // A peer naming no worker it may reach is told so (see undeliverable.ts).
      return routed.catch((error: unknown) => {
        answerUndeliverable(this, message, flow, error);
        throw error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The synchronous seam of {@linkcode Node.deliver}, for transports and channels that pass
   * on many messages: queues `message` at once and returns true when nothing needs
   * awaiting (the next hop is a local worker with room in its mailbox and no incoming hook,
   * the sender has no outgoing hook and no message of its is still being checked, the flow
   * allows it). Otherwise returns false having done nothing: call `deliver`, which waits or
   * fails as it says. Messages passed either way keep their order as long as the caller
   * awaits a `deliver` before its next message.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node, RoutedMessage } from "@sealroute/sealroute/routing";
   *
   * await using node = new Node();
   * let count = 0;
   * node.startWorker("sink", () => { count++; }, { mailboxCapacity: 1 });
   * assert(node.tryDeliver(new RoutedMessage({ onwardRoute: "sink" })));
   * assert(!node.tryDeliver(new RoutedMessage({ onwardRoute: "sink" }))); // full: deliver waits
   * assert(!node.tryDeliver(new RoutedMessage({ onwardRoute: "nobody" })));
   * await node.drained("sink");
   * assert.equal(count, 1);
   * ```
   */
  tryDeliver(message: RoutedMessage, options: DeliverOptions = {}): boolean {
    if (this.#closing) return false;
    if (options.from !== undefined) {
      const sender = this.#workers.get(keyOf(Address.from(options.from)));
      if (sender?.options.outgoing || sender?.outgoingChain) return false;
    }
    const next = message.onwardRoute.next;
    if (!next || !next.isLocal) return false;
    const flow = options.flow;
    if (flow && !this.#flows.isConsumer(next, flow)) return false;
    const record = this.#workers.get(keyOf(next));
    if (!record || record.stopped || record.options.incoming) return false;
    const size = messageSize(message);
    if (record.isFull(size) || record.waiters.length > 0) return false;
    this.#enqueue(record, message, size, flow);
    return true;
  }

  /**
   * Sends `payload` along `route` with a fresh temporary worker as return route and
   * resolves with the first message that comes back.
   *
   * Rejects with `RouteError` code `timeout` (default 30 s), `aborted` (signal), `closed`
   * (node closed), any `send` error, or the connection's `TransportError` when the
   * connection that carried the request (its first hop) is lost. Ockam has no error
   * frame, so a message lost past the first hop surfaces only as `timeout`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * import { RouteError } from "@sealroute/sealroute/errors";
   *
   * await using node = new Node();
   * node.startWorker("void", () => {}); // never replies
   * const err = await node.request("void", new Uint8Array(), { timeout: 10 }).catch((e) => e);
   * assert(err instanceof RouteError && err.code === "timeout");
   * ```
   */
  request(
    route: RouteLike,
    payload: Uint8Array,
    options: RequestOptions = {},
  ): Promise<RoutedMessage> {
    const { timeout = DEFAULT_REQUEST_TIMEOUT, signal, localInfo } = options;
    if (this.#closing) return Promise.reject(new RouteError("closed", "the node is closed"));
    if (signal?.aborted) {
      return Promise.reject(
        new RouteError("aborted", "the request was aborted", { cause: signal.reason }),
      );
    }
    return new Promise<RoutedMessage>((resolve, reject) => {
      let done = false;
      let unwatch: (() => void) | undefined;
      const tmp = Address.random();
      const timer = setTimeout(
        () =>
          finish(
            new RouteError("timeout", `no reply from ${Route.from(route)} within ${timeout} ms`),
          ),
        timeout,
      );
      const onAbort = (): void => {
        finish(new RouteError("aborted", "the request was aborted", { cause: signal?.reason }));
      };
      const finish = (error: Error | undefined, reply?: RoutedMessage): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        unwatch?.();
        void this.stopWorker(tmp);
        if (error) reject(error);
        else resolve(reply!);
      };
      this.startWorker(tmp, ({ message }) => finish(undefined, message), {
        onStop: (reason) => {
          finish(
            this.#closing
              ? new RouteError("closed", "the node closed before a reply arrived")
              : reason ?? new RouteError("stopped", "the request's reply worker was stopped"),
          );
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      let message: RoutedMessage;
      try {
        message = new RoutedMessage({
          onwardRoute: route,
          returnRoute: [tmp],
          payload,
          ...(localInfo ? { localInfo } : {}),
        });
      } catch (error) {
        finish(error as Error);
        return;
      }
      this.#sendFrom(undefined, message, { wait: false, consumer: tmp }).then((hop) => {
        if (done) return;
        unwatch = this.onWorkerStopped(hop, (reason) => {
          // Only a stop with a reason (a lost connection, a closing node) fails the request;
          // a worker that forwarded the message and then stopped normally does not.
          if (reason) {
            finish(
              reason instanceof SealrouteError ? reason : new RouteError("stopped", reason.message),
            );
          }
        });
      }, (error: Error) => finish(error));
    });
  }

  /**
   * Registers the transport that resolves addresses of `type` (1 TCP, 3 WebSocket, ...).
   * Returns a function that unregisters it.
   *
   * @throws {RouteError} code `transport-in-use` if one is already registered for `type`.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Address, Node } from "@sealroute/sealroute/routing";
   *
   * await using node = new Node();
   * // A toy transport: every `9#...` address is served by the local worker "gateway".
   * node.registerTransport(9, { resolve: () => Address.local("gateway") });
   * let got = 0;
   * node.startWorker("gateway", () => { got++; });
   * await node.send("9#anything", new Uint8Array());
   * await node.stopWorker("gateway");
   * assert(got === 1);
   * ```
   */
  registerTransport(type: number, handler: TransportHandler): () => void {
    if (this.#transports.has(type)) {
      throw new RouteError(
        "transport-in-use",
        `a transport is already registered for type ${type}`,
      );
    }
    this.#transports.set(type, handler);
    return () => {
      if (this.#transports.get(type) === handler) this.#transports.delete(type);
    };
  }

  /**
   * The transport registered for `type`, if any.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(node.transport(1) === undefined);
   * ```
   */
  transport(type: number): TransportHandler | undefined {
    return this.#transports.get(type);
  }

  /**
   * Runs `callback` when the node closes (after its workers stopped); for listeners and
   * other resources that live as long as the node. Returns a function that cancels it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * const node = new Node();
   * let cleaned = false;
   * node.onClose(() => { cleaned = true; });
   * await node.close();
   * assert(cleaned);
   * ```
   */
  onClose(callback: () => void | Promise<void>): () => void {
    this.#closeHooks.add(callback);
    return () => {
      this.#closeHooks.delete(callback);
    };
  }

  /**
   * Closes the node: stops every worker (pending requests reject with `RouteError` code
   * `closed`), waits for in-flight handlers, closes transports and runs `onClose` callbacks.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * const node = new Node();
   * node.startWorker("void", () => {});
   * const pending = node.request("void", new Uint8Array()).catch((e) => e.code);
   * await node.close();
   * assert(await pending === "closed");
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * Same as {@linkcode Node.close}, for `await using`.
   *
   * @example
   * ```ts
   * import { Node } from "@sealroute/sealroute/routing";
   * { await using _node = new Node(); }
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const reason = new RouteError("closed", "the node is closed");
    await Promise.all([...this.#workers.values()].map((w) => this.#stop(w, reason)));
    await Promise.all([...this.#transports.values()].map((t) => t.close?.()));
    this.#transports.clear();
    for (const hook of [...this.#closeHooks]) {
      try {
        await hook();
      } catch (error) {
        this.#logger.error("close callback failed", { error });
      }
    }
    this.#closeHooks.clear();
  }

  #stop(record: WorkerRecord, reason: Error | undefined): Promise<void> {
    if (record.stopping) return record.stopping;
    record.stopped = true;
    if (this.#workers.get(record.key) === record) this.#workers.delete(record.key);
    const dropped = record.size;
    record.queue = [];
    record.head = 0;
    record.bytes = 0;
    this.#flows.forget(record.address);
    if (dropped > 0) {
      this.#logger.debug("worker stopped with queued messages, dropping them", {
        address: record.address.toString(),
        dropped,
      });
    }
    const waiters = record.waiters;
    record.waiters = [];
    for (const w of waiters) {
      w.reject(new RouteError("unknown-address", `worker '${record.address}' stopped`));
    }
    const listeners = [...record.listeners];
    record.listeners.clear();
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        this.#logger.error("stop listener failed", { address: record.address.toString(), error });
      }
    }
    record.stopping = (async () => {
      const onStop = (async () => {
        try {
          await record.options.onStop?.(reason);
        } catch (error) {
          this.#logger.error("onStop failed", { address: record.address.toString(), error });
        }
      })();
      await Promise.all([record.idle, onStop]);
      this.#logger.debug("worker stopped", { address: record.address.toString() });
    })();
    return record.stopping;
  }

  /** Applies `from`'s outgoing hook (in order, per worker) then routes. */
  #sendFrom(
    from: Address | undefined,
    message: RoutedMessage,
    how: RouteOptions,
  ): Promise<Address> {
    const sender = from ? this.#workers.get(keyOf(from)) : undefined;
    const hook = sender?.options.outgoing;
    if (!sender || !hook) return this.#route(message, how);
    const run = (): Promise<Address> => {
      const verdict = hook(message);
      if (verdict === true) return this.#route(message, how);
      if (verdict === false) return Promise.reject(this.#refuse(sender, message, "outgoing"));
      const checked = verdict.then((ok) =>
        ok ? this.#route(message, how) : Promise.reject(this.#refuse(sender, message, "outgoing"))
      );
      this.#chain(sender, checked);
      return checked;
    };
    // Keep messages from one sender in order while an asynchronous hook is pending.
    if (sender.outgoingChain) {
      const next = sender.outgoingChain.then(run);
      this.#chain(sender, next);
      return next;
    }
    return run();
  }

  #chain(sender: WorkerRecord, p: Promise<unknown>): void {
    const settled = p.then(() => {}, () => {});
    sender.outgoingChain = settled;
    void settled.then(() => {
      if (sender.outgoingChain === settled) sender.outgoingChain = undefined;
    });
  }

  #refuse(
    record: WorkerRecord,
    message: RoutedMessage,
    direction: "incoming" | "outgoing",
  ): RouteError {
    this.#logger.warn(`${direction} access control refused a message`, {
      worker: record.address.toString(),
      onwardRoute: brief(message.onwardRoute),
      returnRoute: brief(message.returnRoute),
    });
    return new RouteError(
      "refused",
      `${direction} access control of '${record.address}' refused the message`,
    );
  }

  #refuseFlow(flow: Flow, message: RoutedMessage, why: string): RouteError {
    this.#logger.warn("flow control refused a message", {
      flow: flow.id,
      onwardRoute: brief(message.onwardRoute),
      returnRoute: brief(message.returnRoute),
      reason: why,
    });
    return new RouteError("flow-refused", `a message on ${flow} was refused: ${why}`);
  }

  /** Routes to the first hop; resolves with the local worker address it was queued at. */
  async #route(message: RoutedMessage, how: RouteOptions): Promise<Address> {
    if (this.#closing) throw new RouteError("closed", "the node is closed");
    const { wait, flow, consumer } = how;
    let next = message.onwardRoute.next;
    if (!next) {
      throw new RouteError("empty-route", "cannot send a message with an empty onward route");
    }
    const dialled = !next.isLocal;
    if (!next.isLocal) {
      // A remote asking this node to dial out on its behalf: an open proxy unless allowed.
      if (flow && !flow.allowRemoteDial) {
        throw this.#refuseFlow(flow, message, `it names the remote hop ${next}`);
      }
      const transport = this.#transports.get(next.type);
      if (!transport) {
        throw new RouteError(
          "no-transport",
          `no transport registered for type ${next.type} (address ${next})`,
        );
      }
      const resolved = transport.resolve(next);
      next = resolved instanceof Address ? resolved : await resolved;
      // Dialled for a remote (allowed): replies may come back to the link it came from.
      const back = message.returnRoute.next;
      const replies = flow && back && this.#flows.producerFlow(next);
      if (replies && back && this.#flows.producerFlow(back) === flow) {
        this.#flows.addConsumer(back, replies);
      }
      message = message.with({ onwardRoute: message.onwardRoute.popFront().prepend(next) });
    }
    if (flow && !dialled && !this.#flows.isConsumer(next, flow)) {
      throw this.#refuseFlow(flow, message, `'${next}' does not consume it`);
    }
    if (consumer) {
      const replies = this.#flows.producerFlow(next);
      if (replies) this.#flows.addConsumer(consumer, replies);
    }
    let record = this.#workers.get(keyOf(next));
    if (!record) throw new RouteError("unknown-address", `no worker at '${next}'`);
    const size = messageSize(message);
    while (record.isFull(size)) {
      if (!wait) {
        throw new RouteError(
          "mailbox-full",
          `the mailbox of '${next}' is full (${record.size} messages, ${record.bytes} bytes)`,
        );
      }
      await new Promise<void>((resolve, reject) => record!.waiters.push({ resolve, reject }));
      if (record.stopped) {
        record = this.#workers.get(keyOf(next));
        if (!record) throw new RouteError("unknown-address", `no worker at '${next}'`);
      }
    }
    return this.#enqueue(record, message, size, flow);
  }

  #enqueue(
    record: WorkerRecord,
    message: RoutedMessage,
    size: number,
    flow: Flow | undefined,
  ): Address | Promise<Address> {
    const hook = record.options.incoming;
    let check: Promise<boolean> | undefined;
    if (hook) {
      const verdict = hook(message);
      if (verdict === false) throw this.#refuse(record, message, "incoming");
      if (verdict !== true) check = Promise.resolve(verdict).catch(() => false);
    }
    record.queue.push({ message, check, size, flow });
    record.bytes += size;
    if (!record.running) {
      record.running = true;
      record.idle = new Promise<void>((resolve) => record.idleResolve = resolve);
      queueMicrotask(() => void this.#run(record));
    }
    if (!check) return record.address;
    // The message keeps its place in the queue; the sender learns the verdict.
    return check.then((ok) => {
      if (!ok) {
        throw new RouteError(
          "refused",
          `incoming access control of '${record.address}' refused the message`,
        );
      }
      return record.address;
    });
  }

  async #run(record: WorkerRecord): Promise<void> {
    try {
      while (!record.stopped && record.head < record.queue.length) {
        const entry = record.queue[record.head]!;
        record.queue[record.head++] = undefined;
        record.bytes -= entry.size;
        if (record.head >= 1024 && record.head * 2 >= record.queue.length) {
          record.queue = record.queue.slice(record.head);
          record.head = 0;
        }
        const waiter = record.waiters.shift();
        if (waiter) waiter.resolve();
        if (entry.check && !(await entry.check)) {
          this.#refuse(record, entry.message, "incoming");
          continue;
        }
        try {
          const result = record.run(entry.message, entry.flow);
          if (result) await result;
        } catch (error) {
          this.#logger.error("worker handler failed", {
            address: record.address.toString(),
            error,
          });
        }
      }
    } finally {
      record.running = false;
      record.idleResolve?.();
    }
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** A route for a log line: at most its first few hops, so a peer cannot flood the log. */
function brief(route: Route): string {
  const shown = 4;
  if (route.length <= shown) return route.toString();
  const head: string[] = [];
  let i = 0;
  for (const address of route) {
    if (i++ === shown) break;
    head.push(address.toString());
  }
  return `${head.join(" => ")} => … (${route.length} hops)`;
}
