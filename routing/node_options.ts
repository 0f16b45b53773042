/**
 * The options and callback types of {@linkcode Node}: workers, sends, requests, transports.
 *
 * @module
 */
import type { Address, AddressLike } from "./address.ts";
import type { Logger } from "./logger.ts";
import type { Node } from "./node.ts";
import type { RouteLike } from "./route.ts";
import type { LocalInfo, RoutedMessage } from "./routed_message.ts";

/** Default number of messages a worker's mailbox holds before senders are refused or wait. */
export const DEFAULT_MAILBOX_CAPACITY = 1024;
/** Default `request` timeout in milliseconds (Ockam's default receive timeout). */
export const DEFAULT_REQUEST_TIMEOUT = 30_000;

/**
 * An access-control check on a message entering (`incoming`) or leaving (`outgoing`) a
 * worker. It sees the whole message, including `localInfo`; `false` refuses it.
 */
export type AccessHook = (message: RoutedMessage) => boolean | Promise<boolean>;

/** Called with the stop reason (an error, or `undefined` for a plain stop) when a worker stops. */
export type StopListener = (reason: Error | undefined) => void;

/** What a worker's handler receives for each message. */
export interface WorkerContext {
  /** The message; its onward route still starts with this worker's address. */
  readonly message: RoutedMessage;
  /** This worker's address. */
  readonly address: Address;
  /** The node the worker runs on. */
  readonly node: Node;
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

/** Options for {@linkcode Node.startWorker}. */
export interface WorkerOptions {
  /** Checks every message before the handler sees it; a refusal is logged and dropped. */
  incoming?: AccessHook;
  /** Checks every message this worker sends (via its context or `from`). */
  outgoing?: AccessHook;
  /** Mailbox size. Default: the node's `mailboxCapacity` (1024). */
  mailboxCapacity?: number;
  /** Runs when the worker stops (after `stopWorker`, node close, ...); awaited by them. */
  onStop?: (reason: Error | undefined) => void | Promise<void>;
}

/** Options for {@linkcode Node.send}. */
export interface SendOptions {
  /** Return route. Default: `[from]` when `from` is given, else empty. */
  returnRoute?: RouteLike;
  /** Sending worker on this node; its outgoing hook applies. */
  from?: AddressLike;
  /** Local info for the first local hop (never on the wire). */
  localInfo?: LocalInfo;
}

/** Options for {@linkcode Node.deliver}. */
export interface DeliverOptions {
  /** Sending worker on this node; its outgoing hook applies. */
  from?: AddressLike;
}

/** Options for {@linkcode Node.request}. */
export interface RequestOptions {
  /** Milliseconds to wait for the reply. Default {@linkcode DEFAULT_REQUEST_TIMEOUT}. */
  timeout?: number;
  /** Cancels the request (rejects with `RouteError` code `aborted`). */
  signal?: AbortSignal;
  /** Local info for the first local hop. */
  localInfo?: LocalInfo;
}

/**
 * Resolves non-local addresses of one transport type to a local sender worker.
 * Registered with {@linkcode Node.registerTransport}.
 */
export interface TransportHandler {
  /** Connects (or reuses a connection) and returns the connection's local sender worker address. */
  resolve(address: Address): Address | Promise<Address>;
  /** Closes every connection; called by {@linkcode Node.close}. */
  close?(): Promise<void>;
}

/** Options for {@linkcode Node}. */
export interface NodeOptions {
  /** Where drops, refusals and connection events go. Default: {@linkcode silentLogger}. */
  logger?: Logger;
  /** Default mailbox capacity for workers. Default {@linkcode DEFAULT_MAILBOX_CAPACITY}. */
  mailboxCapacity?: number;
}
