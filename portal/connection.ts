/**
 * One portal connection: a TCP connection (or any {@linkcode PortalSocket}) on one side,
 * a worker on a node on the other, joined to the peer portal worker by a route (normally
 * through a secure channel). The inlet and the outlet both run one per TCP connection.
 *
 * Flow control. With a Sealroute peer (both offered the extension in `Ping`/`Pong`), each
 * side grants the other a window of bytes; the sender reads from its socket only while it
 * holds credit, the receiver gives credit back after writing to its socket. A slow reader
 * on either side stops the far socket being read, so a portal holds at most one window
 * per direction. With an Ockam peer, the receiving side awaits each socket write before
 * taking the next message, which backs up into the channel (Ockam's behaviour).
 *
 * Loss. A channel is not a reliable stream: frames in flight when a link is cut can be lost.
 * Between Sealroute ends every `Payload` carries Ockam's packet counter (which Ockam's own
 * decoders read, but Rust Ockam does not write yet), and a gap ends the connection instead
 * of corrupting its stream. A lost `Credit` stalls the sender until the idle timeout.
 *
 * @module
 */
import { Address } from "../routing/address.ts";
import type { Node, WorkerContext } from "../routing/node.ts";
import type { Route } from "../routing/route.ts";
import { RoutedMessage } from "../routing/routed_message.ts";
import {
  decodePortalMessage,
  encodePayload,
  encodePortalMessage,
  MAX_PORTAL_PAYLOAD_SIZE,
  type PortalMessage,
} from "./messages.ts";
import {
  type ConnectionInit,
  errorText,
  type PortalClose,
  type PortalSocket,
  type PortalStats,
} from "./types.ts";

/** How long a portal to an Ockam peer still writes after its socket ended (Ockam: 2 s). */
const LINGER = 2000;

/**
 * One portal connection. Inlets and outlets create them; `closed` tells how each ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PORTAL_WINDOW } from "@sealroute/sealroute/portal";
 * assert.equal(DEFAULT_PORTAL_WINDOW, 256 * 1024);
 * ```
 */
export class PortalConnection {
  readonly #node: Node;
  readonly #socket: PortalSocket;
  readonly #side: "inlet" | "outlet";
  readonly #label: string;
  readonly #window: number;
  readonly #idleTimeout: number;
  readonly #address: Address;
  #remote: Route | undefined;
  #extended = false;
  #credit = 0; // bytes this side may still send (Infinity with an Ockam peer)
  #granted = 0; // bytes the peer may still send us
  #toCredit = 0; // bytes written since the last Credit
  #sendCounter = 0; // the next Payload's counter (extension only)
  #recvCounter = 0; // the counter the next Payload must carry (extension only)
  #wake: (() => void) | undefined;
  #localEnded = false;
  #remoteEnded = false;
  #done = false;
  #lastActive = Date.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;
  #stats = {
    bytesSent: 0,
    bytesReceived: 0,
    unacknowledged: 0,
    peakUnacknowledged: 0,
    buffered: 0,
    peakBuffered: 0,
  };
  #onMessage: ((ctx: WorkerContext, message: PortalMessage) => Promise<void> | void) | undefined;
  readonly #closed: Promise<PortalClose>;
  #resolveClosed!: (close: PortalClose) => void;

  /** Internal: inlets and outlets create connections. */
  constructor(init: ConnectionInit) {
    this.#node = init.node;
    this.#socket = init.socket;
    this.#side = init.side;
    this.#label = init.label;
    this.#window = init.window;
    this.#idleTimeout = init.idleTimeout;
    this.#closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const incoming = init.incoming;
    this.#address = init.node.startWorker(Address.random(), (ctx) => this.#receive(ctx), {
      incoming: (message) => {
        const n = message.payload.length;
        const verdict = incoming ? incoming(message) : true;
        if (verdict === true) this.#buffer(n);
        if (typeof verdict === "boolean") return verdict;
        return verdict.then((ok) => {
          if (ok) this.#buffer(n);
          return ok;
        });
      },
      ...(init.consumes ? { consumes: init.consumes } : {}),
      mailboxCapacity: 256,
      onStop: () => this.#finish({ reason: "closed", by: "local" }, false),
    });
  }

  /** The worker's address (the peer sends to it). */
  get address(): Address {
    return this.#address;
  }

  /** Whether the peer offered the flow-control and half-close extension. */
  get extended(): boolean {
    return this.#extended;
  }

  /** Byte counts so far. */
  get stats(): PortalStats {
    return { ...this.#stats };
  }

  /** Resolves once the connection ended, with why. */
  get closed(): Promise<PortalClose> {
    return this.#closed;
  }

  /** Whether the connection ended. */
  get isClosed(): boolean {
    return this.#done;
  }

  /** Internal: handles messages before the connection is established (Pong, Disconnect). */
  set onMessage(
    handler: ((ctx: WorkerContext, message: PortalMessage) => Promise<void> | void) | undefined,
  ) {
    this.#onMessage = handler;
  }

  /** Internal: sends a message from this worker along `route`, waiting for mailbox room. */
  send(
    route: Route,
    message: PortalMessage,
    options: { receiveReplies?: boolean } = {},
  ): Promise<void> {
    const bytes = encodePortalMessage(message);
    if (options.receiveReplies) {
      return this.#node.send(route, bytes, { from: this.#address, receiveReplies: true });
    }
    return this.#node.deliver(
      new RoutedMessage({ onwardRoute: route, returnRoute: [this.#address], payload: bytes }),
      { from: this.#address },
    );
  }

  /** Internal: closes the connection when the route's first hop (a channel) stops. */
  watch(route: Route): void {
    this.#unwatch?.();
    const first = route.next;
    if (!first || !first.isLocal || !this.#node.hasWorker(first)) return;
    this.#unwatch = this.#node.onWorkerStopped(first, () => {
      this.#log("warn", "the route under the portal is gone (its channel closed)");
      this.#finish({ reason: "route-lost", by: "local" }, false);
    });
  }

  /**
   * Internal: the peer is known; messages from it are handled from now on. `peerWindow` is
   * the window the peer offered (the extension), or `undefined` for an Ockam peer.
   */
  establish(remote: Route, peerWindow: number | undefined, offered: boolean): void {
    this.#remote = remote;
    this.#extended = offered && peerWindow !== undefined;
    this.#credit = this.#extended ? peerWindow! : Infinity;
    this.#granted = this.#extended ? this.#window : Infinity;
    this.#onMessage = undefined;
    this.watch(remote);
    this.#touch();
    this.#armIdle();
    this.#log("info", "portal connection open", { extended: this.#extended });
  }

  /** Internal: starts reading the socket (after `establish`, and the outlet's `Pong`). */
  start(): void {
    if (!this.#done && this.#remote) void this.#pump();
  }

  /**
   * Ends the connection: tells the peer (unless `notify` is false), closes the socket and
   * stops the worker.
   */
  close(reason: PortalClose["reason"] = "closed", notify = true): void {
    this.#finish({ reason, by: "local" }, notify);
  }

  /** Internal: ends the connection because the peer did (nothing is sent). */
  closeAs(reason: PortalClose["reason"]): void {
    this.#finish({ reason, by: "peer" }, false);
  }

  #buffer(n: number): void {
    this.#stats.buffered += n;
    if (this.#stats.buffered > this.#stats.peakBuffered) {
      this.#stats.peakBuffered = this.#stats.buffered;
    }
  }

  async #receive(ctx: WorkerContext): Promise<void> {
    const size = ctx.message.payload.length;
    try {
      if (this.#done) return;
      let message: PortalMessage;
      try {
        message = decodePortalMessage(ctx.message.payload);
      } catch (error) {
        this.#log("warn", "a portal message did not decode", { error: errorText(error) });
        this.#finish({ reason: "protocol", by: "local" }, true);
        return;
      }
      if (this.#onMessage) return await this.#onMessage(ctx, message);
      if (!this.#remote) return;
      await this.#handle(message);
    } finally {
      this.#stats.buffered -= size;
    }
  }

  async #handle(message: PortalMessage): Promise<void> {
    switch (message.type) {
      case "payload": {
        const n = message.data.length;
        if (n > this.#granted || this.#remoteEnded) {
          this.#log("warn", "the peer sent more than its window (or after its end)", { bytes: n });
          this.#finish({ reason: "protocol", by: "local" }, true);
          return;
        }
        if (this.#extended) {
          // A frame lost on the way (a link cut) must end the stream, not corrupt it.
          if (message.counter !== this.#recvCounter) {
            this.#log("warn", "a payload was lost or reordered on the way, closing", {
              counter: message.counter ?? "none",
              expected: this.#recvCounter,
            });
            this.#finish({ reason: "protocol", by: "local" }, true);
            return;
          }
          this.#recvCounter = (this.#recvCounter + 1) & 0xffff;
        }
        this.#granted -= n;
        this.#touch();
        try {
          await this.#socket.write(message.data);
        } catch (error) {
          this.#log("info", "the socket would not take more bytes", { error: errorText(error) });
          this.#finish({ reason: "closed", by: "local" }, true);
          return;
        }
        this.#stats.bytesReceived += n;
        if (!this.#extended) return;
        this.#toCredit += n;
        if (this.#toCredit >= Math.max(1, this.#window >> 2)) {
          const bytes = this.#toCredit;
          this.#toCredit = 0;
          this.#granted += bytes;
          await this.#sendRemote({ type: "credit", bytes });
        }
        return;
      }
      case "credit":
        if (!this.#extended) return;
        this.#credit += message.bytes;
        this.#stats.unacknowledged -= message.bytes;
        this.#wake?.();
        return;
      case "end":
        if (!this.#extended || this.#remoteEnded) return;
        this.#remoteEnded = true;
        await this.#socket.closeWrite().catch(() => {});
        if (this.#localEnded) this.#finish({ reason: "closed", by: "peer" }, false);
        return;
      case "disconnect":
        this.#log("info", "the peer ended the portal connection", {
          ...(message.reason ? { reason: message.reason } : {}),
        });
        this.#finish({ reason: message.reason ?? "remote", by: "peer" }, false);
        return;
      case "ping":
      case "pong":
        this.#log("warn", `an unexpected ${message.type} on an open portal connection`);
        return;
    }
  }

  // Socket → peer: read only while holding credit, send each chunk before reading more.
  async #pump(): Promise<void> {
    const scratch = new Uint8Array(MAX_PORTAL_PAYLOAD_SIZE);
    while (!this.#done) {
      while (this.#credit <= 0 && !this.#done) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        this.#wake = undefined;
      }
      if (this.#done) return;
      const room = Math.min(this.#credit, MAX_PORTAL_PAYLOAD_SIZE);
      let n: number | null;
      try {
        n = await this.#socket.read(
          room === MAX_PORTAL_PAYLOAD_SIZE ? scratch : scratch.subarray(0, room),
        );
      } catch (error) {
        if (this.#done) return;
        this.#log("info", "the socket read failed", { error: errorText(error) });
        this.#finish({ reason: "closed", by: "local" }, true);
        return;
      }
      if (this.#done) return;
      if (n === null) return this.#ended();
      if (n === 0) continue;
      this.#credit -= n;
      this.#touch();
      const counter = this.#extended ? this.#sendCounter : undefined;
      this.#sendCounter = (this.#sendCounter + 1) & 0xffff;
      const sent = await this.#sendRemote(
        undefined,
        encodePayload(scratch.subarray(0, n), counter),
      );
      if (!sent) return;
      this.#stats.bytesSent += n;
      if (this.#extended) {
        this.#stats.unacknowledged += n;
        if (this.#stats.unacknowledged > this.#stats.peakUnacknowledged) {
          this.#stats.peakUnacknowledged = this.#stats.unacknowledged;
        }
      }
    }
  }

  // The socket's reading side ended.
  async #ended(): Promise<void> {
    this.#localEnded = true;
    if (this.#extended) {
      await this.#sendRemote({ type: "end" });
      if (this.#remoteEnded) this.#finish({ reason: "closed", by: "local" }, false);
      return;
    }
    // Ockam's semantics: a socket that ended ends the portal; keep writing for a moment.
    await this.#sendRemote({ type: "disconnect" });
    this.#linger = setTimeout(() => this.#finish({ reason: "closed", by: "local" }, false), LINGER);
  }

  async #sendRemote(message: PortalMessage | undefined, bytes?: Uint8Array): Promise<boolean> {
    const remote = this.#remote;
    if (!remote) return false;
    try {
      await this.#node.deliver(
        new RoutedMessage({
          onwardRoute: remote,
          returnRoute: [this.#address],
          payload: bytes ?? encodePortalMessage(message!),
        }),
        { from: this.#address },
      );
      return true;
    } catch (error) {
      if (!this.#done) {
        this.#log("warn", "could not send to the peer portal", { error: errorText(error) });
        this.#finish({ reason: "route-lost", by: "local" }, false);
      }
      return false;
    }
  }

  #touch(): void {
    this.#lastActive = Date.now();
  }

  #armIdle(): void {
    if (this.#idleTimeout <= 0 || this.#done) return;
    const left = this.#lastActive + this.#idleTimeout - Date.now();
    this.#idleTimer = setTimeout(() => {
      if (this.#done) return;
      if (Date.now() - this.#lastActive >= this.#idleTimeout) {
        this.#log("info", "portal connection idle, closing", { idleMs: this.#idleTimeout });
        this.#finish({ reason: "idle", by: "local" }, true);
      } else {
        this.#armIdle();
      }
    }, Math.max(1, left));
  }

  #finish(close: PortalClose, notify: boolean): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#linger);
    this.#unwatch?.();
    this.#wake?.();
    const remote = this.#remote;
    if (notify && remote) {
      const reason = close.reason;
      const known = this.#extended && reason !== "route-lost" && reason !== "timeout" &&
        reason !== "remote";
      const bytes = encodePortalMessage(
        known ? { type: "disconnect", reason } : { type: "disconnect" },
      );
      this.#node.send(remote, bytes, { from: this.#address }).catch(() => {});
    }
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
    if (this.#node.hasWorker(this.#address)) void this.#node.stopWorker(this.#address);
    this.#log("info", "portal connection closed", {
      reason: close.reason,
      by: close.by,
      sent: this.#stats.bytesSent,
      received: this.#stats.bytesReceived,
    });
    this.#resolveClosed(close);
  }

  #log(level: "info" | "warn", message: string, fields: Record<string, unknown> = {}): void {
    this.#node.logger[level](`${this.#side}: ${message}`, { portal: this.#label, ...fields });
  }
}
