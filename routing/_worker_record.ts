// A worker's registration on a node: its mailbox and lifecycle state, and the context its
// handler receives.
import type { Address } from "./address.ts";
import type { Node } from "./node.ts";
import type {
  SendOptions,
  StopListener,
  WorkerContext,
  WorkerHandler,
  WorkerOptions,
} from "./node_options.ts";
import type { RouteLike } from "./route.ts";
import type { LocalInfo, RoutedMessage } from "./routed_message.ts";

export interface Entry {
  message: RoutedMessage;
  check: Promise<boolean> | undefined;
}

export interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class WorkerRecord {
  readonly address: Address;
  readonly key: string;
  readonly handler: WorkerHandler;
  readonly options: WorkerOptions;
  readonly capacity: number;
  queue: (Entry | undefined)[] = [];
  head = 0;
  running = false;
  stopped = false;
  stopping: Promise<void> | undefined;
  idle: Promise<void> = Promise.resolve();
  idleResolve: (() => void) | undefined;
  waiters: Waiter[] = [];
  listeners = new Set<StopListener>();
  outgoingChain: Promise<unknown> | undefined;

  constructor(address: Address, handler: WorkerHandler, options: WorkerOptions, capacity: number) {
    this.address = address;
    this.key = keyOf(address);
    this.handler = handler;
    this.options = options;
    this.capacity = capacity;
  }

  get size(): number {
    return this.queue.length - this.head;
  }
}

export class Context implements WorkerContext {
  readonly message: RoutedMessage;
  readonly address: Address;
  readonly node: Node;

  constructor(message: RoutedMessage, address: Address, node: Node) {
    this.message = message;
    this.address = address;
    this.node = node;
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

export function keyOf(address: Address): string {
  return address.valueText;
}
