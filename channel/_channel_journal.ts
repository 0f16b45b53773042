// Internal: a resumable channel's persisted state, kept up to date so that a crash at any
// moment never makes the channel reuse a nonce nor deliver a frame twice once resumed.
//
// Sending (nonce reservation): the record says "resume at epoch R with K(R)", and every
// nonce the encryptor uses is below R * 32. Before it uses a nonce n >= R * 32, a new
// reservation R' = epoch(n) + B is persisted (K(R') is made by rekeying forward, never by
// exporting a key in use) and the encryption waits for that write.
//
// Receiving (floor): the record says "nonces up to F are refused". A frame is handled
// (delivered) only once a record with F >= its nonce is written. Each authenticated frame
// raises the wanted floor at once, so the frames decrypted while a write is in progress share
// the next write. After a resume, frames up to F are refused: a replay of anything delivered
// before the crash, and frames that authenticated but were not yet delivered (lost; the
// reliable-delivery layer sends them again).
//
// Writes are one at a time, each of the whole record; callers that arrive while one is in
// progress share the next.
import { ChannelError } from "../errors.ts";
import type { CipherState } from "./cipher_state.ts";
import type { ChannelState, ChannelStateStore } from "./channel_state.ts";
import { KEY_RENEWAL_INTERVAL } from "./encryptor.ts";
import type { ChannelPeer } from "./secure_channel_options.ts";

/** Epochs reserved per write by default (128 nonces). */
export const DEFAULT_RESERVE_EPOCHS = 4;

const epochOf = (nonce: number) => Math.floor(nonce / KEY_RENEWAL_INTERVAL);

/** The key `steps` epochs after `key`'s, as raw bytes (steps >= 1). */
async function keyBytesAhead(key: CipherState, steps: number): Promise<Uint8Array> {
  let current = key;
  for (let i = 1; i < steps; i++) current = await current.rekeyed();
  return await current.rekeyedKeyBytes();
}

export interface JournalOptions {
  store: ChannelStateStore;
  id: string;
  /** The record as it stands (a resumed one, or a new one with its first keys). */
  state: ChannelState;
  /** Nonces below this are covered by the record (a new channel: 0). */
  reserved: number;
  reserveEpochs?: number;
  log: (level: "debug" | "warn" | "error", message: string, error: unknown) => void;
}

/**
 * A resumable channel's persisted state, kept current as the channel runs: send-nonce
 * reservations written before the nonces are used, and the receive floor written before a
 * frame above it is delivered. Internal to channels (`resume` option); not for direct use.
 */
export class ChannelJournal {
  readonly #store: ChannelStateStore;
  readonly #id: string;
  readonly #state: ChannelState;
  readonly #epochs: number;
  readonly #log: JournalOptions["log"];
  #readKey: ((epoch: number) => Uint8Array | undefined) | undefined;
  #peer: (() => ChannelPeer) | undefined;
  // Sending: nonces below #limit are covered by a written record.
  #limit: number;
  #pending: Promise<void> | undefined;
  #pendingLimit = 0;
  // Receiving: the floor written, and the one wanted (highest authenticated nonce).
  #floorSaved: number;
  #floorWanted: number;
  // Writes.
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #discarded = false;
  #writes = 0;

  /** A journal for `options.state`, kept in `options.store` under `options.id`. */
  constructor(options: JournalOptions) {
    this.#store = options.store;
    this.#id = options.id;
    this.#state = options.state;
    this.#epochs = options.reserveEpochs ?? DEFAULT_RESERVE_EPOCHS;
    if (!Number.isInteger(this.#epochs) || this.#epochs < 1 || this.#epochs > 1024) {
      throw new RangeError(`reserveEpochs must be an integer in 1..1024, got ${this.#epochs}`);
    }
    this.#log = options.log;
    this.#limit = options.reserved;
    this.#floorSaved = options.state.receive.floor;
    this.#floorWanted = options.state.receive.floor;
  }

  /** The id of the channel's record. */
  get id(): string {
    return this.#id;
  }

  /** Records written so far (for tests and accounting). */
  get writes(): number {
    return this.#writes;
  }

  /** For the decryptor's `keyBytesReader`: how to read its held epoch keys. */
  readKeysWith(read: (epoch: number) => Uint8Array | undefined): void {
    this.#readKey = read;
  }

  /** A view of the channel's peer (refreshed credentials), once the channel exists. */
  attach(peer: () => ChannelPeer): void {
    this.#peer = peer;
  }

  /**
   * For the encryptor: nothing when `nonce` is covered, else a promise that resolves once a
   * reservation covering it is written (`key`: the key of its epoch).
   */
  reserve(nonce: number, key: Promise<CipherState>): Promise<void> | undefined {
    if (nonce < this.#limit) return undefined;
    if (this.#pending && nonce < this.#pendingLimit) return this.#pending;
    const epoch = epochOf(nonce) + this.#epochs;
    const previous = this.#pending ?? Promise.resolve();
    const run = previous.catch(() => {}).then(async () => {
      if (nonce < this.#limit) return;
      if (epoch > this.#state.send.epoch) {
        const bytes = await keyBytesAhead(await key, epoch - epochOf(nonce));
        this.#state.send.key.fill(0);
        this.#state.send = { epoch, key: bytes };
      }
      await this.#save();
      if (epoch * KEY_RENEWAL_INTERVAL > this.#limit) this.#limit = epoch * KEY_RENEWAL_INTERVAL;
    });
    this.#pending = run;
    this.#pendingLimit = epoch * KEY_RENEWAL_INTERVAL;
    run.then(() => {
      if (this.#pending === run) this.#pending = undefined;
    }, (error) => {
      // The frames waiting on it fail (none goes out unreserved); the next one tries again.
      if (this.#pending === run) {
        this.#pending = undefined;
        this.#pendingLimit = 0;
      }
      this.#log("error", "could not persist a nonce reservation", error);
    });
    return run;
  }

  /** An authenticated frame with `nonce`: raise the wanted floor, and start writing it. */
  saw(nonce: number): void {
    if (nonce <= this.#floorWanted) return;
    this.#floorWanted = nonce;
    this.#save().catch(() => {});
  }

  /** Before a frame is handled: nothing when its nonce is under the written floor, else waits. */
  received(nonce: number): Promise<void> | undefined {
    if (nonce <= this.#floorSaved) return undefined;
    if (nonce > this.#floorWanted) this.#floorWanted = nonce;
    return this.#save().then(() => {
      if (nonce > this.#floorSaved) {
        throw new ChannelError("persist-failed", "the receive floor was not persisted");
      }
    });
  }

  /** The channel ended for good: waits for writes in progress, then deletes the record. */
  async discard(): Promise<void> {
    if (this.#discarded) return;
    this.#discarded = true;
    await Promise.allSettled([this.#current, this.#next]);
    this.#state.send.key.fill(0);
    this.#state.receive.key.fill(0);
    await this.#store.delete(this.#id);
  }

  // One write at a time; a call made while one is in progress shares the next one, which
  // takes its snapshot when it starts.
  #save(): Promise<void> {
    if (this.#discarded) {
      return Promise.reject(new ChannelError("closed", "the channel's state was discarded"));
    }
    if (this.#next) return this.#next;
    const previous = this.#current ?? Promise.resolve();
    const run: Promise<void> = previous.catch(() => {}).then(() => {
      if (this.#next === run) this.#next = undefined;
      this.#current = run;
      return this.#write();
    });
    this.#next = run;
    run.catch(() => {}).finally(() => {
      if (this.#current === run) this.#current = undefined;
    });
    return run;
  }

  async #write(): Promise<void> {
    if (this.#discarded) throw new ChannelError("closed", "the channel's state was discarded");
    const state = this.#state;
    const floor = this.#floorWanted;
    // The receive key: the newest held one at or below the epoch of the next nonce wanted.
    const need = epochOf(floor + 1);
    for (let e = need; e > state.receive.epoch && e > need - 64; e--) {
      const bytes = this.#readKey?.(e);
      if (!bytes) continue;
      state.receive.key.fill(0);
      state.receive = { epoch: e, key: bytes, floor: state.receive.floor };
      break;
    }
    state.receive.floor = Math.max(floor, state.receive.floor);
    if (this.#peer) state.peer = this.#peer();
    await this.#store.save(this.#id, state);
    this.#writes++;
    if (floor > this.#floorSaved) this.#floorSaved = floor;
  }
}
