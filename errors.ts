/**
 * The error types every Sealroute module throws.
 *
 * One base class, {@linkcode SealrouteError}, with a stable `code` string, and one
 * subclass per area. Messages say what was expected and what arrived; they never carry
 * key material or plaintext.
 *
 * @example Telling errors apart
 * ```ts
 * import assert from "node:assert/strict";
 * import { SealrouteError, VaultError } from "@sealroute/sealroute/errors";
 *
 * const error = new VaultError("unknown-key", "no key with id 'abc'");
 * assert(error instanceof SealrouteError);
 * assert(error.code === "unknown-key");
 * ```
 *
 * @module
 */

/** Base class of every error Sealroute throws on purpose. */
export class SealrouteError extends Error {
  /** A stable, machine-readable code such as `"bad-signature"` or `"timeout"`. */
  readonly code: string;

  /**
   * Creates an error with a stable `code` and a human-readable message.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SealrouteError } from "@sealroute/sealroute/errors";
   * const e = new SealrouteError("example", "something happened");
   * assert(e.message === "something happened");
   * ```
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Key handling and cryptographic failures: wrong lengths or kinds, unknown keys, failed decryption. */
export class VaultError extends SealrouteError {}

/** Bytes that do not decode as the expected wire format. */
export class DecodeError extends SealrouteError {}

/** A message that cannot be delivered: unknown address, full mailbox, timeout, closed node. */
export class RouteError extends SealrouteError {}

/** A transport-level failure: a connection lost, refused or closed for a bad frame. */
export class TransportError extends SealrouteError {}

/** A Noise handshake that failed: tampered, truncated or out-of-turn messages, bad state. */
export class HandshakeError extends SealrouteError {}

/** An identity, attestation, credential or trust-policy check that failed. */
export class TrustError extends SealrouteError {}

/** A secure-channel failure after (or around) the handshake: replay, closed by peer, refused. */
export class ChannelError extends SealrouteError {}

/**
 * A reliable-delivery failure (`delivery/`): a full outbox, a message that could not be
 * delivered in time or whose peer closed, or a peer frame refused (a lying acknowledgement,
 * a sequence number outside the window).
 */
export class DeliveryError extends SealrouteError {}

/**
 * An authority refused a request: an enrollment ticket that is unknown, used, expired or for
 * another authority, a subject that is not (or no longer) a member, an enroller it does not trust.
 */
export class AuthorityError extends SealrouteError {}
