// A worker's registration on a node: its mailbox (bounded in count and bytes) and its
// lifecycle state. Knows nothing of the node itself.
import type { Address } from "./address.ts";
import type { Flow } from "./flow_controls.ts";
import type { StopListener, WorkerOptions } from "./node_options.ts";
import type { RoutedMessage } from "./routed_message.ts";

export interface Entry {
  message: RoutedMessage;
  check: Promise<boolean> | undefined;
  size: number;
  flow: Flow | undefined;
}

export interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Runs the worker's handler on one message. */
export type Run = (message: RoutedMessage, flow: Flow | undefined) => void | Promise<void>;

/** Mailbox cost of a route address beyond its bytes: the objects that hold it. */
const ADDRESS_COST = 64;

/** What a message costs a mailbox: its payload and its routes. */
export function messageSize(message: RoutedMessage): number {
  return message.payload.byteLength +
    (message.onwardRoute.length + message.returnRoute.length) * ADDRESS_COST;
}

export class WorkerRecord {
  readonly address: Address;
  readonly key: string;
  readonly run: Run;
  readonly options: WorkerOptions;
  readonly capacity: number;
  readonly maxBytes: number;
  queue: (Entry | undefined)[] = [];
  head = 0;
  bytes = 0;
  running = false;
  stopped = false;
  stopping: Promise<void> | undefined;
  idle: Promise<void> = Promise.resolve();
  idleResolve: (() => void) | undefined;
  waiters: Waiter[] = [];
  listeners = new Set<StopListener>();
  outgoingChain: Promise<unknown> | undefined;

  constructor(
    address: Address,
    run: Run,
    options: WorkerOptions,
    limits: { capacity: number; maxBytes: number },
  ) {
    this.address = address;
    this.key = keyOf(address);
    this.run = run;
    this.options = options;
    this.capacity = limits.capacity;
    this.maxBytes = limits.maxBytes;
  }

  get size(): number {
    return this.queue.length - this.head;
  }

  /** Whether a message of `size` bytes must wait (or be refused): the mailbox is full. */
  isFull(size: number): boolean {
    return this.size >= this.capacity || (this.size > 0 && this.bytes + size > this.maxBytes);
  }
}

export function keyOf(address: Address): string {
  return address.valueText;
}
