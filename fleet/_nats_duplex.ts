// The byte stream of a NATS link: sequenced NATS messages with acknowledgements and
// retransmission over at-most-once core NATS. See `natsLinkDuplex` in mod.ts.
import { TransportError } from "../errors.ts";
import type { Duplex } from "../transport/duplex.ts";

/** A received NATS message, as far as a link needs it. */
export interface NatsLinkMessage {
  /** The message's payload. */
  data: Uint8Array;
}

/** A NATS subscription, as far as a link needs it. */
export interface NatsLinkSubscription {
  /** Stops delivery. */
  unsubscribe(): void;
}

/** The part of a NATS client a link uses (the official `NatsConnection` fits). */
export interface NatsLinkClient {
  /** Publishes `payload` on `subject` (buffered by the client while it reconnects). */
  publish(subject: string, payload: Uint8Array): void;
  /** Subscribes to `subject`; messages are handed to `callback` in order. */
  subscribe(
    subject: string,
    options: { callback(error: Error | null, message: NatsLinkMessage): void },
  ): NatsLinkSubscription;
}

/** Message kinds: `[kind u8][seq u32 BE][bytes]`. */
const DATA = 0;
const CLOSE = 1;
const HELLO = 2;
const HELLO_ACK = 3;
/** seq = the next sequence number expected: everything before it arrived. */
const ACK = 4;
/** seq = the next sequence number expected: resend from there. */
const NACK = 5;
const HEADER = 5;
/** How often a link says hello until the peer answers, in ms. */
const HELLO_INTERVAL = 200;
/** How long an acknowledgement may be delayed, in ms. */
const ACK_DELAY = 20;
/** Messages received after which an acknowledgement goes out at once. */
const ACK_EVERY = 32;
/** Time without acknowledgement progress after which unacknowledged messages are resent. */
const RESEND_AFTER = 250;
/** How long close waits for the peer to acknowledge what was sent, in ms. */
const CLOSE_WAIT = 1000;
/** Bytes of the random session id a hello carries. */
const SESSION_BYTES = 8;
/** Least time between two resend requests (and two resends on request), in ms. */
const NACK_INTERVAL = 50;

/** Signed distance `a - b` of two u32 sequence numbers. */
const distance = (a: number, b: number): number => (a - b) | 0;

/** Internal: the parameters `natsLinkDuplex` resolved. */
export interface NatsDuplexConfig {
  out: string;
  inbound: string;
  maxChunk: number;
  maxQueued: number;
  maxUnacked: number;
}

/** Internal: a NATS link's duplex; see `natsLinkDuplex`. */
export class NatsDuplex implements Duplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #client: NatsLinkClient;
  readonly #config: NatsDuplexConfig;
  readonly #subscription: NatsLinkSubscription;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #sendSeq = 0;
  #expect = 0;
  /** Sent and not yet acknowledged, oldest first: `[seq, message]`. */
  #unacked: [number, Uint8Array][] = [];
  #unackedBytes = 0;
  #waiters: (() => void)[] = [];
  #peerSeen = false;
  #readDone = false;
  #writeDone = false;
  #sinceAck = 0;
  #lastProgress = Date.now();
  #lastNack = 0;
  #lastResend = 0;
  /** Something was dropped because the read queue was full. */
  #dropped = false;
  /** This side's random session id, sent in hellos; the peer's, once heard. */
  readonly #session = crypto.getRandomValues(new Uint8Array(SESSION_BYTES));
  #peerSession: string | undefined;
  #hello: ReturnType<typeof setInterval> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #resendTimer: ReturnType<typeof setInterval> | undefined;

  constructor(client: NatsLinkClient, config: NatsDuplexConfig) {
    this.#client = client;
    this.#config = config;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      // Room again after dropping for a full queue: ask for the rest now.
      pull: () => {
        if (!this.#dropped || this.#readDone) return;
        this.#dropped = false;
        this.#control(NACK, this.#expect);
      },
      cancel: () => this.close(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: config.maxQueued }));
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.close(),
      abort: () => this.close(),
    });
    this.#subscription = client.subscribe(config.inbound, {
      callback: (error, message) => {
        if (error) return this.#fail(new TransportError("read-failed", "NATS subscription failed"));
        this.#receive(message.data);
      },
    });
    this.#hello = setInterval(() => this.#control(HELLO, 0), HELLO_INTERVAL);
    this.#control(HELLO, 0);
  }

  async close(): Promise<void> {
    // What the peer has not acknowledged yet may still need resending (bounded).
    const deadline = Date.now() + CLOSE_WAIT;
    while (!this.#readDone && this.#unacked.length > 0 && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, RESEND_AFTER);
      });
      clearTimeout(timer);
    }
    if (!this.#writeDone) {
      this.#writeDone = true;
      // Best effort: a lost close is caught by the peer's dead-link detection.
      this.#publish(this.#message(CLOSE, this.#sendSeq, new Uint8Array(0)));
    }
    this.#endRead();
  }

  #endRead(error?: TransportError): void {
    this.#readDone = true;
    this.#stopTimers();
    this.#subscription.unsubscribe();
    for (const w of this.#waiters.splice(0)) w();
    try {
      if (error) this.#controller.error(error);
      else this.#controller.close();
    } catch {
      // already closed or errored
    }
  }

  #fail(error: TransportError): void {
    if (this.#readDone) return;
    this.#endRead(error);
    void this.close(); // tells the peer, so its side ends too
  }

  #stopTimers(): void {
    clearInterval(this.#hello);
    clearTimeout(this.#ackTimer);
    clearInterval(this.#resendTimer);
    this.#hello = this.#ackTimer = this.#resendTimer = undefined;
  }

  async #write(chunk: Uint8Array): Promise<void> {
    const { maxChunk, maxUnacked } = this.#config;
    for (let at = 0; at < chunk.length; at += maxChunk) {
      // Until the peer listens, and while too much waits for acknowledgement (bounded by
      // the connection's write timeout).
      while (!this.#writeDone && (!this.#peerSeen || this.#unackedBytes > maxUnacked)) {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
      if (this.#writeDone) {
        throw new TransportError("connection-closed", `NATS link ${this.#config.out} closed`);
      }
      const seq = this.#sendSeq;
      this.#sendSeq = (seq + 1) >>> 0;
      const message = this.#message(DATA, seq, chunk.subarray(at, at + maxChunk));
      if (this.#unacked.length === 0) this.#lastProgress = Date.now();
      this.#unacked.push([seq, message]);
      this.#unackedBytes += message.length;
      this.#resendTimer ??= setInterval(() => this.#resendIfStalled(), RESEND_AFTER / 2);
      this.#publish(message);
    }
  }

  #receive(bytes: Uint8Array): void {
    if (this.#readDone) return;
    const kind = bytes[0];
    if (bytes.length < HEADER || kind === undefined || kind > NACK) {
      return this.#bad("malformed message");
    }
    const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(1);
    switch (kind) {
      case HELLO:
      case HELLO_ACK: {
        if (bytes.length !== HEADER + SESSION_BYTES) return this.#bad("malformed hello");
        const session = Array.from(bytes.subarray(HEADER), (b) => b.toString(16)).join(",");
        if (this.#peerSession !== undefined && session !== this.#peerSession) {
          // Its sequence numbers start again: this link's stream cannot go on.
          return this.#fail(
            new TransportError("peer-restarted", `the peer of ${this.#config.out} restarted`),
          );
        }
        this.#peerSession = session;
        if (kind === HELLO) this.#control(HELLO_ACK, 0);
        if (!this.#peerSeen) {
          this.#peerSeen = true;
          clearInterval(this.#hello);
          this.#hello = undefined;
          for (const w of this.#waiters.splice(0)) w();
        }
        return;
      }
      case ACK:
      case NACK:
        return this.#acknowledged(seq, kind === NACK);
    }
    const ahead = distance(seq, this.#expect);
    if (ahead < 0) return this.#scheduleAck(); // a resent duplicate: drop, re-acknowledge
    if (ahead > 0) {
      // A gap (a message lost in a broker): drop what follows and ask for a resend.
      const now = Date.now();
      if (now - this.#lastNack >= NACK_INTERVAL) {
        this.#lastNack = now;
        this.#control(NACK, this.#expect);
      }
      return;
    }
    if (kind === DATA && (this.#controller.desiredSize ?? 0) < bytes.length - HEADER) {
      // The reader is behind by `maxQueuedBytes`: drop it unacknowledged, so the sender
      // resends it once the reader has room (backpressure without unbounded buffering).
      this.#dropped = true;
      return;
    }
    this.#expect = (this.#expect + 1) >>> 0;
    if (kind === CLOSE) {
      this.#control(ACK, this.#expect);
      return this.#endRead();
    }
    if (bytes.length > HEADER) this.#controller.enqueue(bytes.slice(HEADER));
    this.#scheduleAck();
  }

  /** The peer expects `next`: drop what it has; on a NACK resend the rest. */
  #acknowledged(next: number, resend: boolean): void {
    const oldest = this.#unacked[0]?.[0] ?? this.#sendSeq;
    if (distance(next, this.#sendSeq) > 0 || distance(next, oldest) < 0) {
      // Acknowledges what was never sent, or asks again for what it already acknowledged:
      // not this link's peer (or it restarted).
      if (distance(next, oldest) < 0 && !resend) return; // a late, stale ACK
      return this.#fail(
        new TransportError("link-gap", `NATS link ${this.#config.out}: peer expects #${next}`),
      );
    }
    let dropped = 0;
    while (this.#unacked.length > dropped && distance(next, this.#unacked[dropped]![0]) > 0) {
      this.#unackedBytes -= this.#unacked[dropped]![1].length;
      dropped++;
    }
    if (dropped > 0) {
      this.#unacked.splice(0, dropped);
      this.#lastProgress = Date.now();
      if (this.#unackedBytes <= this.#config.maxUnacked) {
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    if (this.#unacked.length === 0) {
      clearInterval(this.#resendTimer);
      this.#resendTimer = undefined;
    }
    const now = Date.now();
    if (resend && now - this.#lastResend >= NACK_INTERVAL) {
      // Rate-limited: a flood of resend requests costs at most one window per interval.
      this.#lastResend = now;
      this.#resendAll();
    }
  }

  #resendIfStalled(): void {
    if (this.#unacked.length > 0 && Date.now() - this.#lastProgress >= RESEND_AFTER) {
      this.#resendAll();
    }
  }

  #resendAll(): void {
    this.#lastProgress = Date.now();
    for (const [, message] of this.#unacked) this.#publish(message);
  }

  #scheduleAck(): void {
    if (++this.#sinceAck >= ACK_EVERY) return this.#sendAck();
    this.#ackTimer ??= setTimeout(() => this.#sendAck(), ACK_DELAY);
  }

  #sendAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#sinceAck = 0;
    this.#control(ACK, this.#expect);
  }

  #bad(what: string): void {
    this.#fail(new TransportError("bad-message", `${what} on ${this.#config.inbound}`));
  }

  #message(kind: number, seq: number, bytes: Uint8Array): Uint8Array {
    const message = new Uint8Array(HEADER + bytes.length);
    message[0] = kind;
    new DataView(message.buffer).setUint32(1, seq);
    message.set(bytes, HEADER);
    return message;
  }

  #control(kind: number, seq: number): void {
    const hello = kind === HELLO || kind === HELLO_ACK;
    this.#publish(this.#message(kind, seq, hello ? this.#session : new Uint8Array(0)));
  }

  #publish(message: Uint8Array): void {
    try {
      this.#client.publish(this.#config.out, message);
    } catch {
      // The client is closed: writes stall and the connection's write timeout ends the link.
    }
  }
}
