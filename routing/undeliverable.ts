/**
 * Undeliverable notices: a Sealroute extension to Ockam's routing, so that a sender learns at
 * once that the far node has no worker at the address it named, instead of waiting for a
 * timeout (Ockam's wire has no error frame).
 *
 * When a node receives over a connection a message whose next hop names no worker that the
 * connection may reach (no worker there, or one that does not consume the connection's flow:
 * both look the same from outside, so a notice tells nothing about workers the sender may not
 * reach), and the message's return route names someone behind the connection, the node sends
 * back a small notice: onward route `[<that connection>, sealroute_undeliverable]`, empty
 * return route, and a BARE payload (see {@linkcode encodeUndeliverableNotice}) with a code
 * (`unknown-address`), the address the sender named (at most 128 bytes of it) and the rest of
 * the original return route, whose first hop is the worker that waits.
 *
 * The receiving node runs a worker at {@linkcode UNDELIVERABLE_ADDRESS} while it has
 * connections (it consumes every connection's flow, and nothing else: a notice sent by a
 * local worker, or over a secure channel, is ignored). It tells listeners registered with
 * {@linkcode Node.onUndeliverable} for the waiting worker, if that worker itself consumes the
 * connection the notice came over (a notice can only touch a worker talking over that link).
 * A waiting route with more hops, whose first is another connection joined to this one (a
 * relay between two links), is passed on along it, one hop shorter.
 *
 * Notices are hostile input: at most {@linkcode MAX_NOTICE_BYTES}, a decode error drops the
 * notice silently (debug log); notices sent through one connection are rate-limited (a token
 * bucket, 10 per second by default; excess dropped, so a flood of bad messages cannot be
 * amplified); a notice is never answered with a notice; a notice only repeats the address
 * the sender itself named.
 *
 * Ockam compatibility: an Ockam node receiving a notice sees a message for the unknown
 * address `sealroute_undeliverable` and drops it (Ockam never answers); the wire format of
 * everything else is unchanged. Turn the extension off with
 * {@linkcode configureUndeliverableNotices}.
 *
 * @module
 */
import { SealrouteError } from "../errors.ts";
import { Address, type AddressLike } from "./address.ts";
import type { Flow, FlowControls } from "./flow_controls.ts";
import type { Logger } from "./logger.ts";
import type { StopListener, WorkerOptions } from "./node_options.ts";
import type { RouteLike } from "./route.ts";
import type { RoutedMessage } from "./routed_message.ts";
import {
  decodeUndeliverableNotice,
  encodeUndeliverableNotice,
  MAX_NOTICE_ADDRESS_BYTES,
  MAX_NOTICE_BYTES,
  MAX_NOTICE_WAITING_HOPS,
  type NoticeFields,
  type UndeliverableNotice,
} from "./_undeliverable_codec.ts";

export {
  decodeUndeliverableNotice,
  encodeUndeliverableNotice,
  MAX_NOTICE_ADDRESS_BYTES,
  MAX_NOTICE_BYTES,
  MAX_NOTICE_WAITING_HOPS,
  type NoticeFields,
  type UndeliverableNotice,
} from "./_undeliverable_codec.ts";

/** The well-known address of the worker receiving undeliverable notices. */
export const UNDELIVERABLE_ADDRESS = "sealroute_undeliverable";
/** Default notices sent through one connection per second (and the bucket's burst). */
export const DEFAULT_NOTICE_RATE = 10;

const NOTICE_ADDRESS = Address.local(UNDELIVERABLE_ADDRESS);

/** What a listener of {@linkcode Node.onUndeliverable} is told. */
export interface UndeliverableEvent {
  /** Why: `unknown-address`. */
  readonly code: string;
  /** The address the far node did not know (at most 128 bytes of it, see `truncated`). */
  readonly address: Address;
  /** Whether `address` was truncated by the far node. */
  readonly truncated: boolean;
  /** The flow of the connection the notice came over. */
  readonly flow: Flow;
}

/** A listener of {@linkcode Node.onUndeliverable}. */
export type UndeliverableListener = (event: UndeliverableEvent) => void;

/** Options of {@linkcode configureUndeliverableNotices}. */
export interface UndeliverableOptions {
  /** Send notices for messages from peers naming no reachable worker. Default `true`. */
  answer?: boolean;
  /** Receive notices (run the worker at {@linkcode UNDELIVERABLE_ADDRESS}). Default `true`. */
  accept?: boolean;
  /** Notices sent through one connection per second, and at most at once. Default 10. */
  rate?: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

interface State {
  answer: boolean;
  accept: boolean;
  rate: number;
  /** Open connections (link flows) on the node. */
  links: number;
  /** Whether the worker at UNDELIVERABLE_ADDRESS is ours and running. */
  running: boolean;
  readonly listeners: Map<string, Set<UndeliverableListener>>;
  readonly buckets: WeakMap<Flow, Bucket>;
  /** Why recently closed connections closed, by sender address (oldest dropped first). */
  readonly lost: Map<string, Error>;
}

/** How many closed connections' reasons a node remembers. */
const LOST_LINKS = 32;

/**
 * What of a `Node` the notices use (an interface, so that node.ts, which calls in here, is not
 * imported); every `Node` is one.
 */
export interface NoticeNode {
  /** The node's flow controls. */
  readonly flowControls: FlowControls;
  /** The node's logger. */
  readonly logger: Logger;
  /** Whether the node is closed. */
  readonly closed: boolean;
  /** Whether a worker runs at `address`. */
  hasWorker(address: AddressLike): boolean;
  /** Stops the worker at `address`. */
  stopWorker(address: AddressLike, reason?: Error): Promise<boolean>;
  /** Starts a worker. */
  startWorker(
    address: AddressLike,
    handler: (ctx: NoticeContext) => void | Promise<void>,
    options?: WorkerOptions,
  ): Address;
  /** Sends `payload` along `route`. */
  send(route: RouteLike, payload: Uint8Array): Promise<void>;
  /** Calls `listener` when the worker at `address` stops. */
  onWorkerStopped(address: AddressLike, listener: StopListener): () => void;
}

/** What of a `WorkerContext` the notice worker uses. */
export interface NoticeContext {
  /** The notice. */
  readonly message: RoutedMessage;
  /** The flow it arrived on. */
  readonly flow: Flow | undefined;
}

const states = new WeakMap<NoticeNode, State>();
/** The flows of transport connections (set by `linkFlow`); only they carry notices. */
const linkFlows = new WeakSet<Flow>();

function stateOf(node: NoticeNode): State {
  let state = states.get(node);
  if (!state) {
    state = {
      answer: true,
      accept: true,
      rate: DEFAULT_NOTICE_RATE,
      links: 0,
      running: false,
      listeners: new Map(),
      buckets: new WeakMap(),
      lost: new Map(),
    };
    states.set(node, state);
  }
  return state;
}

/**
 * Turns the sending or receiving of undeliverable notices on or off for `node`, or changes
 * the rate limit. Both are on by default.
 *
 * @throws {RangeError} for a rate that is not a positive integer.
 * @example
 * ```ts
 * import { configureUndeliverableNotices, Node } from "@sealroute/sealroute/routing";
 * await using node = new Node();
 * configureUndeliverableNotices(node, { answer: false, accept: false });
 * ```
 */
export function configureUndeliverableNotices(
  node: NoticeNode,
  options: UndeliverableOptions,
): void {
  const state = stateOf(node);
  if (options.rate !== undefined) {
    if (!Number.isSafeInteger(options.rate) || options.rate < 1) {
      throw new RangeError(`rate must be a positive integer, got ${options.rate}`);
    }
    state.rate = options.rate;
  }
  if (options.answer !== undefined) state.answer = options.answer;
  if (options.accept !== undefined) state.accept = options.accept;
  if (!state.accept && state.running) {
    state.running = false;
    void node.stopWorker(NOTICE_ADDRESS);
  } else if (state.accept && state.links > 0) startNoticeWorker(node, state);
}

/**
 * Internal (the `Node.onUndeliverable` API): calls `listener` with each notice naming the
 * worker at `address`. Returns a function that unsubscribes.
 */
export function subscribeUndeliverable(
  node: NoticeNode,
  address: AddressLike,
  listener: UndeliverableListener,
): () => void {
  const key = Address.from(address).toString();
  const listeners = stateOf(node).listeners;
  let set = listeners.get(key);
  if (!set) listeners.set(key, set = new Set());
  set.add(listener);
  return () => {
    const current = listeners.get(key);
    current?.delete(listener);
    if (current?.size === 0) listeners.delete(key);
  };
}

/**
 * Internal (called by `linkFlow`): `flow` is a transport connection's, whose sender worker is
 * `sender`. Notices may arrive on it while the sender runs.
 */
export function registerLinkFlow(node: NoticeNode, sender: Address, flow: Flow): void {
  linkFlows.add(flow);
  const state = stateOf(node);
  node.flowControls.addConsumer(NOTICE_ADDRESS, flow);
  state.links++;
  if (state.accept) startNoticeWorker(node, state);
  node.onWorkerStopped(sender, (reason) => {
    node.flowControls.removeConsumer(NOTICE_ADDRESS, flow);
    if (reason) {
      const key = sender.toString();
      state.lost.delete(key);
      state.lost.set(key, reason);
      if (state.lost.size > LOST_LINKS) state.lost.delete(state.lost.keys().next().value!);
    }
    // The worker runs only while the node has connections (no worker left behind).
    if (--state.links === 0 && state.running) {
      state.running = false;
      void node.stopWorker(NOTICE_ADDRESS);
    }
  });
}

/**
 * Internal: why the connection whose sender worker was at `sender` closed, if it closed
 * recently with a reason (a route through it fails with that instead of `unknown-address`).
 */
export function lostLinkReason(node: NoticeNode, sender: Address): Error | undefined {
  return states.get(node)?.lost.get(sender.toString());
}

/**
 * Internal (called by `Node.deliver` when a message on `flow` could not be routed): answers
 * with a notice if the message came over a connection, named a local worker it may not reach,
 * and has someone behind the connection waiting; within the connection's rate limit.
 */
export function answerUndeliverable(
  node: NoticeNode,
  message: RoutedMessage,
  flow: Flow,
  error: unknown,
): void {
  if (!(error instanceof SealrouteError)) return;
  if (error.code !== "unknown-address" && error.code !== "flow-refused") return;
  const state = states.get(node);
  if ((state && !state.answer) || !linkFlows.has(flow) || node.closed) return;
  const next = message.onwardRoute.next;
  // A notice is never answered (no loops); a remote hop refused is no unknown address.
  if (!next?.isLocal || next.equals(NOTICE_ADDRESS)) return;
  if (node.hasWorker(next) && node.flowControls.isConsumer(next, flow)) return;
  noticeRefusal(node, message, flow, { code: "unknown-address", address: next });
}

/**
 * Tells the sender of `message`, which arrived over a connection on `flow`, that the
 * worker at `address` refused it with `code` (e.g. a relay's full store-and-forward queue,
 * `queue-full`): the same notice, limits and rules as for an unknown address. Nothing is
 * sent when the message did not come over a connection or names nobody waiting behind it.
 */
export function noticeRefusal(
  node: NoticeNode,
  message: RoutedMessage,
  flow: Flow | undefined,
  refusal: { code: string; address: Address },
): void {
  const state = states.get(node);
  if (!flow || (state && !state.answer) || !linkFlows.has(flow) || node.closed) return;
  const back = message.returnRoute.next;
  if (!back?.isLocal || !node.hasWorker(back)) return;
  // Only back over the link the message came on.
  const towards = node.flowControls.producerFlow(back);
  if (towards === undefined || (towards !== flow && towards !== flow.spawner)) return;
  // Nobody named behind the link (a channel's frames carry no return route of their own):
  // the notice then goes to the link itself, whose owner may listen.
  const waiting = message.returnRoute.popFront();
  if (waiting.length > MAX_NOTICE_WAITING_HOPS) return;
  for (const hop of waiting) if (hop.value.length > MAX_NOTICE_ADDRESS_BYTES) return;
  send(node, stateOf(node), flow, back, { ...refusal, waiting });
}

function send(
  node: NoticeNode,
  state: State,
  flow: Flow,
  via: Address,
  notice: NoticeFields,
): void {
  if (!take(state, flow)) {
    node.logger.debug("undeliverable notice not sent: rate limit", { flow: flow.id });
    return;
  }
  const payload = encodeUndeliverableNotice(notice);
  node.send([via, NOTICE_ADDRESS], payload).then(
    () => node.logger.debug("undeliverable notice sent", { address: brief(notice.address) }),
    (error: unknown) => node.logger.debug("undeliverable notice not sent", { error }),
  );
}

/** Token bucket per flow: `rate` per second, at most `rate` at once. */
function take(state: State, flow: Flow): boolean {
  const now = Date.now();
  let bucket = state.buckets.get(flow);
  if (!bucket) state.buckets.set(flow, bucket = { tokens: state.rate, last: now });
  bucket.tokens = Math.min(state.rate, bucket.tokens + ((now - bucket.last) * state.rate) / 1000);
  bucket.last = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

function startNoticeWorker(node: NoticeNode, state: State): void {
  if (state.running || node.closed || node.hasWorker(NOTICE_ADDRESS)) return;
  try {
    node.startWorker(NOTICE_ADDRESS, (ctx) => receive(node, state, ctx), {
      mailboxCapacity: 64,
      mailboxBytes: 64 * MAX_NOTICE_BYTES,
      onStop: () => {
        state.running = false;
      },
    });
    state.running = true;
  } catch (error) {
    node.logger.debug("undeliverable notices: worker not started", { error });
  }
}

function receive(node: NoticeNode, state: State, ctx: NoticeContext): void {
  const flow = ctx.flow;
  if (!flow || !linkFlows.has(flow)) {
    node.logger.debug("undeliverable notice not from a connection, ignored");
    return;
  }
  let notice: UndeliverableNotice;
  try {
    notice = decodeUndeliverableNotice(ctx.message.payload);
  } catch (error) {
    node.logger.debug("undeliverable notice malformed, dropped", { error });
    return;
  }
  const flows = node.flowControls;
  const target = notice.waiting.next;
  if (!target) return tellLink(node, state, flow, notice);
  // Only a worker that talks over this link (consumes its flow) hears of it.
  const reachable = target.isLocal && flows.isConsumer(target, flow);
  const listeners = reachable ? state.listeners.get(target.toString()) : undefined;
  if (listeners) {
    const event: UndeliverableEvent = {
      code: notice.code,
      address: notice.address,
      truncated: notice.truncated,
      flow,
    };
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        node.logger.error("undeliverable listener failed", { error });
      }
    }
    return;
  }
  // Passed on towards the sender over a connection joined to this one (a relay's two links).
  const onward = reachable && notice.waiting.length > 1 && node.hasWorker(target)
    ? flows.producerFlow(target)
    : undefined;
  if (onward && linkFlows.has(onward) && state.answer) {
    send(node, state, onward, target, { ...notice, waiting: notice.waiting.popFront() });
    return;
  }
  node.logger.debug("undeliverable notice for nobody listening, dropped", {
    address: brief(notice.address),
  });
}

/**
 * A notice naming nobody behind the link: told to listeners at the address that produces the
 * link's flow (the connection's sender, or a reconnecting link in front of it).
 */
function tellLink(node: NoticeNode, state: State, flow: Flow, notice: UndeliverableNotice): void {
  const flows = node.flowControls;
  const event: UndeliverableEvent = {
    code: notice.code,
    address: notice.address,
    truncated: notice.truncated,
    flow,
  };
  let told = false;
  for (const [address, listeners] of state.listeners) {
    const produced = flows.producerFlow(address);
    if (produced === undefined || (produced !== flow && produced !== flow.spawner)) continue;
    for (const listener of [...listeners]) {
      told = true;
      try {
        listener(event);
      } catch (error) {
        node.logger.error("undeliverable listener failed", { error });
      }
    }
  }
  if (!told) node.logger.debug("undeliverable notice for the link, nobody listening");
}

/** An address for a log line, short. */
function brief(address: Address): string {
  const text = address.toString();
  return text.length <= 64 ? text : `${text.slice(0, 64)}…`;
}
