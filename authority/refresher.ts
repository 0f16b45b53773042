/**
 * Keeping a member's credential fresh: fetch a new one before the current one expires and
 * present it on every open channel (Ockam's `RefreshCredentials`).
 *
 * @module
 */
import type { CredentialSource, SecureChannel } from "../channel/mod.ts";
import {
  type Clock,
  type CredentialAndPurposeKey,
  decodeCredentialData,
  systemClock,
} from "../identity/mod.ts";

/** Options of {@linkcode CredentialRefresher}. */
export interface CredentialRefresherOptions {
  /** Gets a fresh credential (for example {@linkcode fetchCredential} to the authority). */
  fetch: () => Promise<CredentialAndPurposeKey>;
  /** The credential held now, if any. */
  initial?: CredentialAndPurposeKey;
  /**
   * Refresh once less than this share of the credential's lifetime is left. Default 0.2
   * (a one-hour credential is refreshed 12 minutes before it expires).
   */
  refreshShare?: number;
  /** Wait before retrying a failed fetch, in ms. Default 5000. */
  retryDelay?: number;
  /** Told of each failed fetch (the refresher retries). */
  onError?: (error: unknown) => void;
  /** Told of each new credential. */
  onRefresh?: (credential: CredentialAndPurposeKey) => void;
  /** The current time in seconds. */
  clock?: Clock;
}

/**
 * A member's current credential, renewed before it expires. Pass
 * {@linkcode CredentialRefresher.credentials} as a channel's `credentials` option (the
 * array is updated in place, so later handshakes present the newest credential) and
 * {@linkcode CredentialRefresher.track} each open channel, which then receives every new
 * credential as a RefreshCredentials message. {@linkcode CredentialRefresher.start} runs
 * it on timers; {@linkcode CredentialRefresher.tick} is one check, for a controlled clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CredentialRefresher } from "@sealroute/sealroute/authority";
 * import { createIdentity, issueCredential, systemClock } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * const authority = await createIdentity(new Vault());
 * const device = await createIdentity(new Vault());
 * let now = systemClock();
 * const clock = () => now;
 * const fetch = () =>
 *   issueCredential({ issuer: authority, subject: device.identity, attributes: {}, ttl: 100, clock });
 * const refresher = new CredentialRefresher({ fetch, clock, initial: await fetch() });
 * assert.equal(await refresher.tick(), false); // fresh
 * now += 90;
 * assert.equal(await refresher.tick(), true); // 10 s left: renewed
 * assert.equal(refresher.expiresAt, now + 100);
 * ```
 */
export class CredentialRefresher implements Disposable, CredentialSource {
  #options: CredentialRefresherOptions;
  #clock: Clock;
  #credentials: CredentialAndPurposeKey[] = [];
  #createdAt = 0;
  #expiresAt = 0;
  #channels = new Set<SecureChannel>();
  #listeners = new Set<(credentials: readonly CredentialAndPurposeKey[]) => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #inflight: Promise<CredentialAndPurposeKey> | undefined;

  /** A refresher; nothing runs until {@linkcode CredentialRefresher.start} or a tick. */
  constructor(options: CredentialRefresherOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    if (options.initial) this.#hold(options.initial);
  }

  /** The live array of current credentials (empty or one), updated in place. */
  get credentials(): readonly CredentialAndPurposeKey[] {
    return this.#credentials;
  }

  /** When the current credential expires (seconds; 0 without one). */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Whether the current credential is missing or due for renewal now. */
  get due(): boolean {
    if (this.#credentials.length === 0) return true;
    const share = this.#options.refreshShare ?? 0.2;
    const lifetime = Math.max(0, this.#expiresAt - this.#createdAt);
    return this.#expiresAt - this.#clock() <= lifetime * share;
  }

  /**
   * Calls `listener` after each renewal (channels given this refresher as their
   * `credentialSource` send the renewal to their peers by themselves).
   */
  onChange(listener: (credentials: readonly CredentialAndPurposeKey[]) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Presents every new credential on `channel` until it closes. */
  track(channel: SecureChannel): void {
    this.#channels.add(channel);
    void channel.closed.then(() => this.#channels.delete(channel));
  }

  /** Fetches a credential now, holds it and presents it on every tracked channel. */
  refresh(): Promise<CredentialAndPurposeKey> {
    this.#inflight ??= (async () => {
      try {
        const credential = await this.#options.fetch();
        this.#hold(credential);
        await Promise.all(
          [...this.#channels].map((c) =>
            c.isClosed ? undefined : c.refreshCredentials(this.#credentials).catch((error) => {
              this.#options.onError?.(error);
            })
          ),
        );
        for (const listener of [...this.#listeners]) {
          try {
            listener(this.#credentials);
          } catch (error) {
            this.#options.onError?.(error);
          }
        }
        this.#options.onRefresh?.(credential);
        return credential;
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }

  /** Refreshes if {@linkcode CredentialRefresher.due}; whether it did. A failed fetch rejects. */
  async tick(): Promise<boolean> {
    if (!this.due) return false;
    await this.refresh();
    return true;
  }

  /** Runs on timers: refreshes when due, retries failures after `retryDelay`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops the timers. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** Stops the timers. */
  [Symbol.dispose](): void {
    this.stop();
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.tick().then(() => this.#schedule(this.#untilDue()), (error) => {
        this.#options.onError?.(error);
        this.#schedule(this.#options.retryDelay ?? 5000);
      });
    }, Math.min(ms, 2 ** 31 - 1));
  }

  #untilDue(): number {
    const share = this.#options.refreshShare ?? 0.2;
    const lifetime = Math.max(0, this.#expiresAt - this.#createdAt);
    const at = this.#expiresAt - lifetime * share;
    return Math.max(1000, (at - this.#clock()) * 1000);
  }

  #hold(credential: CredentialAndPurposeKey): void {
    const data = decodeCredentialData(credential.credential.data);
    this.#createdAt = data.createdAt;
    this.#expiresAt = data.expiresAt;
    this.#credentials.splice(0, this.#credentials.length, credential);
  }
}
