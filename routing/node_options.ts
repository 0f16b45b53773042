/**
 * The options and callback types of {@linkcode Node}: workers, sends, requests, transports.
 * (The types that name the node itself, `WorkerContext` and `WorkerHandler`, are in node.ts.)
 *
 * @module
 */
import type { Address, AddressLike } from "./address.ts";
import type { Flow } from "./flow_controls.ts";
import type { Logger } from "./logger.ts";
import type { RouteLike } from "./route.ts";
import type { LocalInfo, RoutedMessage } from "./routed_message.ts";

/** Default number of messages a worker's mailbox holds before senders are refused or wait. */
export const DEFAULT_MAILBOX_CAPACITY = 1024;
/**
 * Default bytes (payloads plus a small cost per route address) a worker's mailbox holds
 * before senders are refused or wait. A single message larger than this is still accepted
 * into an empty mailbox.
 */
export const DEFAULT_MAILBOX_BYTES = 32 * 1024 * 1024;
/** Default `request` timeout in milliseconds (Ockam's default receive timeout). */
export const DEFAULT_REQUEST_TIMEOUT = 30_000;

/**
 * An access-control check on a message entering (`incoming`) or leaving (`outgoing`) a
 * worker. It sees the whole message, including `localInfo`; `false` refuses it.
 */
export type AccessHook = (message: RoutedMessage) => boolean | Promise<boolean>;

/** Called with the stop reason (an error, or `undefined` for a plain stop) when a worker stops. */
export type StopListener = (reason: Error | undefined) => void;

/** Options for {@linkcode Node.startWorker}. */
export interface WorkerOptions {
  /** Checks every message before the handler sees it; a refusal is logged and dropped. */
  incoming?: AccessHook;
  /** Checks every message this worker sends (via its context or `from`). */
  outgoing?: AccessHook;
  /** Mailbox size. Default: the node's `mailboxCapacity` (1024). */
  mailboxCapacity?: number;
  /** Mailbox size in bytes. Default: the node's `mailboxBytes` (32 MiB). */
  mailboxBytes?: number;
  /**
   * Flows this worker receives messages from (see {@linkcode FlowControls}). A message that
   * arrived over a connection or a channel reaches only consumers of its flow; local
   * messages reach every worker. Default: none.
   */
  consumes?: readonly Flow[];
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
  /**
   * Makes `from` a consumer of the flow the route's first hop leads into (a connection, a
   * channel), so that replies coming back that way reach it; what `request` does for its
   * reply worker. Default `false`.
   */
  receiveReplies?: boolean;
}

/** Options for {@linkcode Node.deliver}. */
export interface DeliverOptions {
  /** Sending worker on this node; its outgoing hook applies. */
  from?: AddressLike;
  /**
   * The flow the message arrived on (transports and secure channels set it): it reaches
   * only consumers of that flow, and a non-local next hop only if the flow allows remote
   * dials. Default: none (a local message).
   */
  flow?: Flow | undefined;
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
  /** Default mailbox size in bytes for workers. Default {@linkcode DEFAULT_MAILBOX_BYTES}. */
  mailboxBytes?: number;
}
