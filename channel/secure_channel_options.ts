/**
 * Options shared by both ends of a secure channel, and what a channel knows of its peer.
 *
 * @module
 */
import type {
  Clock,
  CredentialAndPurposeKey,
  Identity,
  LocalIdentity,
  TrustPolicy,
} from "../identity/mod.ts";
import type { ChannelStateStore } from "./channel_state.ts";

/** Options of {@linkcode createSecureChannel} and {@linkcode createSecureChannelListener}. */
export interface SecureChannelOptions {
  /** This end's identity; its secure-channel purpose key is the Noise static key. */
  identity: LocalIdentity;
  /** Who may be on the other end; decided before the channel opens. Default: everyone. */
  trustPolicy?: TrustPolicy;
  /** Credentials to present. Default: the identity's own stored credentials. */
  credentials?: readonly CredentialAndPurposeKey[];
  /**
   * Credentials that are renewed over time (e.g. an authority's `CredentialRefresher`): the
   * channel presents the current ones in its handshake and, by itself, sends each renewal
   * to the peer (RefreshCredentials) for as long as it is open. Takes precedence over
   * `credentials`.
   */
  credentialSource?: CredentialSource;
  /** Accepted credential issuers. Without them, presented credentials are not checked (as Ockam). */
  authorities?: readonly Identity[];
  /** Handshake timeout in milliseconds. Default 30 000 (Ockam: 120 s). */
  timeout?: number;
  /** The current time in seconds, for attestation and credential expiry. */
  clock?: Clock;
  /** Nonces behind the newest a receiver still accepts once. Default 1024. */
  replayWindow?: number;
  /** Encryptions or decryptions in flight per direction before the worker waits. Default 64. */
  maxInFlight?: number;
  /**
   * What happens when the local worker the channel's frames leave through (a transport
   * connection) stops with an error, once the frames that arrived before are handled (so a
   * Close sent just before a drop is `closed-by-peer`). `true`: the channel closes with
   * `ChannelError` `route-lost` at once. `false`: it never closes for that. Default: an
   * initiator closes at once (its link is gone; a reconnecting link does not stop when its
   * connection drops, only when it gives up); a responder waits `routeLossGrace` ms for the
   * peer's next frame on a new route, which it then follows (as Ockam's responder does).
   * While the route is down, outgoing frames wait in a queue bounded by `maxHeldFrames` and
   * `maxHeldBytes`; when it is full, the channel's worker waits, its mailbox fills and
   * senders get `RouteError` `mailbox-full`.
   */
  closeOnRouteLoss?: boolean;
  /**
   * How long a responder waits for its peer on a new route after its link was lost, in ms,
   * before it closes with `route-lost`; 0 closes at once. Default 30 s.
   */
  routeLossGrace?: number;
  /** Frames held while the route is down, at most. Default 1024. */
  maxHeldFrames?: number;
  /** Bytes of those frames, at most (one frame always fits). Default 4 MiB. */
  maxHeldBytes?: number;
  /**
   * How many key epochs (32 messages each) a frame may skip ahead of the newest one that
   * authenticated. Default 2^15 (2^20 lost messages). A forged frame at the bound costs its
   * receiver that many key derivations once (≈ 3 s of one core, in the background; the
   * channel's other traffic does not wait for it) and ≈ 1 MiB; lower it where that matters
   * more than surviving long losses.
   */
  maxEpochsAhead?: number;
  /**
   * Frames that wait aside for their epoch key to be derived (after a long loss, or forged
   * to point far ahead), at most. When full, the frame pointing furthest ahead is dropped.
   * Default {@linkcode DEFAULT_MAX_WAITING_FRAMES}.
   */
  maxWaitingFrames?: number;
  /** Bytes of those frames at most. Default {@linkcode DEFAULT_MAX_WAITING_BYTES}. */
  maxWaitingBytes?: number;
  /**
   * Most changes a peer's identity history may have (in the handshake and in
   * RefreshCredentials), checked before any signature is verified. Default 32.
   */
  maxChanges?: number;
  /** Most credentials a peer may present at once. Default 8. */
  maxCredentials?: number;
  /** Largest credential a peer may present, in bytes of data and attestation. Default 16 KiB. */
  maxCredentialSize?: number;
  /**
   * Makes the channel resumable after a crash or reboot without a new handshake (opt-in;
   * the wire format is unchanged): its state is persisted in this store (see
   * `resumeSecureChannels`), nonces are reserved before use so none is ever used twice,
   * and frames are delivered only once a receive floor covering them is persisted. A
   * channel that closes (locally, by its peer, or for a lost route) deletes its state; a
   * node that stops keeps it.
   */
  resume?: ChannelStateStore;
  /** Key epochs (32 nonces each) reserved per write of a resumable channel. Default 4. */
  reserveEpochs?: number;
}

/** Credentials that change over time; see `SecureChannelOptions.credentialSource`. */
export interface CredentialSource {
  /** The current credentials. */
  readonly credentials: readonly CredentialAndPurposeKey[];
  /** Calls `listener` with the credentials after each change; returns a function that stops it. */
  onChange(listener: (credentials: readonly CredentialAndPurposeKey[]) => void): () => void;
}

export type { ChannelPeer } from "./channel_peer.ts";

/** Local-info key under which channels record the peer's verified attributes. */
export const LOCAL_INFO_ATTRIBUTES = "sealroute.attributes";

/** Local-info key under which channels record the channel's own address (its encryptor). */
export const LOCAL_INFO_CHANNEL = "sealroute.channel";

/** Default handshake timeout in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

/** Default bound on frames waiting aside for their epoch key, per channel. */
export const DEFAULT_MAX_WAITING_FRAMES = 1024;

/** Default bound on the bytes of frames waiting aside for their epoch key, per channel (4 MiB). */
export const DEFAULT_MAX_WAITING_BYTES: number = 4 * 1024 * 1024;

/** Default bound on a listener's handshakes in progress (at any stage). */
export const DEFAULT_MAX_HANDSHAKES = 10_000;
