/**
 * Flow control (Ockam's `FlowControls`): which workers a message that arrived from
 * outside may reach.
 *
 * A *flow* is the stream of messages one producer lets in: a transport connection, or a
 * secure channel's decryptor. Messages delivered on a flow reach only the workers added
 * as *consumers* of that flow, or of the flow it was spawned from (a listener's flow is the
 * spawner of every connection it accepts). Local code sends on no flow and reaches every
 * local worker. A *producer address* is a local address whose routes lead into a flow (a
 * connection's sender worker, a channel's encryptor): a `request` through it makes its
 * reply worker a consumer, so the reply can come back.
 *
 * @module
 */
import { Address, type AddressLike } from "./address.ts";

let nextFlowId = 0;

/** Options for {@linkcode FlowControls.createFlow}. */
export interface CreateFlowOptions {
  /** The flow this one was spawned from: consumers of the spawner consume this flow too. */
  spawner?: Flow;
  /**
   * Whether messages on this flow may name a non-local next hop (`1#host:port`), making
   * this node open a connection on the sender's behalf. Default `false`.
   */
  allowRemoteDial?: boolean;
  /** A label for logs (e.g. `"tcp 127.0.0.1:4000"`). */
  label?: string;
}

/**
 * One flow: an opaque identity plus the flow it was spawned from. Create flows with
 * {@linkcode FlowControls.createFlow}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * const listener = node.flowControls.createFlow({ label: "listener" });
 * const connection = node.flowControls.createFlow({ spawner: listener });
 * assert(connection.spawner === listener && !connection.allowRemoteDial);
 * ```
 */
export class Flow {
  /** A unique id on this process, for logs. */
  readonly id: string;
  /** The flow this one was spawned from, if any. */
  readonly spawner: Flow | undefined;
  /** Whether messages on this flow may make the node dial out (see {@linkcode CreateFlowOptions}). */
  readonly allowRemoteDial: boolean;

  /** Internal: use {@linkcode FlowControls.createFlow}. */
  constructor(options: CreateFlowOptions = {}) {
    this.id = `flow-${++nextFlowId}${options.label ? ` (${options.label})` : ""}`;
    this.spawner = options.spawner;
    this.allowRemoteDial = options.allowRemoteDial ?? options.spawner?.allowRemoteDial ?? false;
  }

  /**
   * The id, for logs.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(String(node.flowControls.createFlow()).startsWith("flow-"));
   * ```
   */
  toString(): string {
    return this.id;
  }
}

/**
 * A node's registry of flows, their consumers and their producer addresses. Every
 * {@linkcode Node} has one, `node.flowControls`; the node forgets a worker's entries when
 * the worker stops.
 *
 * @example Only consumers of a connection's flow hear from it
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node } from "@sealroute/sealroute/routing";
 *
 * await using node = new Node();
 * const flow = node.flowControls.createFlow();
 * node.startWorker("open", () => {}, { consumes: [flow] });
 * node.startWorker("private", () => {});
 * assert(node.flowControls.isConsumer("open", flow));
 * assert(!node.flowControls.isConsumer("private", flow));
 * ```
 */
export class FlowControls {
  readonly #consumers = new Map<Flow, Set<string>>();
  readonly #consumed = new Map<string, Set<Flow>>();
  readonly #producers = new Map<string, Flow>();

  /**
   * A new flow.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(node.flowControls.createFlow() !== node.flowControls.createFlow());
   * ```
   */
  createFlow(options: CreateFlowOptions = {}): Flow {
    return new Flow(options);
  }

  /**
   * Lets the worker at `address` receive messages on `flow` (and on flows spawned from it).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const listener = node.flowControls.createFlow();
   * node.flowControls.addConsumer("api", listener);
   * assert(node.flowControls.isConsumer("api", node.flowControls.createFlow({ spawner: listener })));
   * ```
   */
  addConsumer(address: AddressLike, flow: Flow): void {
    const key = Address.from(address).valueText;
    let consumers = this.#consumers.get(flow);
    if (!consumers) this.#consumers.set(flow, consumers = new Set());
    consumers.add(key);
    let flows = this.#consumed.get(key);
    if (!flows) this.#consumed.set(key, flows = new Set());
    flows.add(flow);
  }

  /**
   * Stops the worker at `address` receiving messages on `flow`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const flow = node.flowControls.createFlow();
   * node.flowControls.addConsumer("w", flow);
   * node.flowControls.removeConsumer("w", flow);
   * assert(!node.flowControls.isConsumer("w", flow));
   * ```
   */
  removeConsumer(address: AddressLike, flow: Flow): void {
    this.#unlink(Address.from(address).valueText, flow);
  }

  /**
   * Whether a message on `flow` may be delivered to `address`: it consumes `flow` or the
   * flow `flow` was spawned from.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(!node.flowControls.isConsumer("anyone", node.flowControls.createFlow()));
   * ```
   */
  isConsumer(address: AddressLike, flow: Flow): boolean {
    const key = Address.from(address).valueText;
    if (this.#consumers.get(flow)?.has(key)) return true;
    return flow.spawner !== undefined && this.#consumers.get(flow.spawner)?.has(key) === true;
  }

  /**
   * The flows the worker at `address` consumes (a secure-channel listener hands them to
   * the decryptors it spawns).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const flow = node.flowControls.createFlow();
   * node.flowControls.addConsumer("api", flow);
   * assert.deepEqual(node.flowControls.consumedFlows("api"), [flow]);
   * ```
   */
  consumedFlows(address: AddressLike): Flow[] {
    return [...(this.#consumed.get(Address.from(address).valueText) ?? [])];
  }

  /**
   * Records that routes starting at `address` lead into `flow`'s producer (a connection's
   * sender worker, a channel's encryptor), so replies to what goes out through it arrive on
   * `flow`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const flow = node.flowControls.createFlow();
   * node.flowControls.addProducer("sender", flow);
   * assert(node.flowControls.producerFlow("sender") === flow);
   * ```
   */
  addProducer(address: AddressLike, flow: Flow): void {
    this.#producers.set(Address.from(address).valueText, flow);
  }

  /**
   * The flow that routes starting at `address` lead into, if any.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * assert(node.flowControls.producerFlow("nobody") === undefined);
   * ```
   */
  producerFlow(address: AddressLike): Flow | undefined {
    return this.#producers.get(Address.from(address).valueText);
  }

  /**
   * Forgets every entry of `address` (the node calls this when the worker there stops).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Node } from "@sealroute/sealroute/routing";
   * await using node = new Node();
   * const flow = node.flowControls.createFlow();
   * node.flowControls.addConsumer("w", flow);
   * node.flowControls.addProducer("w", flow);
   * node.flowControls.forget("w");
   * assert(!node.flowControls.isConsumer("w", flow) && !node.flowControls.producerFlow("w"));
   * ```
   */
  forget(address: AddressLike): void {
    const key = Address.from(address).valueText;
    this.#producers.delete(key);
    for (const flow of this.#consumed.get(key) ?? []) this.#unlink(key, flow);
  }

  #unlink(key: string, flow: Flow): void {
    const consumers = this.#consumers.get(flow);
    consumers?.delete(key);
    if (consumers?.size === 0) this.#consumers.delete(flow);
    const flows = this.#consumed.get(key);
    flows?.delete(flow);
    if (flows?.size === 0) this.#consumed.delete(key);
  }
}
