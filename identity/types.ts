/**
 * Types shared across the identity module: keys and signatures with their algorithm,
 * and the injectable clock.
 *
 * @module
 */
import type { SignatureAlgorithm } from "../vault/mod.ts";

/** Seconds since the Unix epoch, as Ockam's `TimestampInSeconds`. */
export type Clock = () => number;

/** Options of every check against "now" (attestations, credentials). */
export interface ClockOptions {
  /** The current time in seconds; defaults to {@linkcode systemClock}. */
  clock?: Clock;
  /** Allowed clock drift in seconds for items created "in the future". Default 60. */
  skew?: number;
}

/** Default allowed drift: Ockam's `MAX_ALLOWED_TIME_DRIFT`. */
export const DEFAULT_SKEW = 60;

/**
 * The system clock in whole seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "@sealroute/sealroute/identity";
 * assert(Math.abs(systemClock() - Date.now() / 1000) < 2);
 * ```
 */
export function systemClock(): number {
  return Math.floor(Date.now() / 1000);
}

/** A public key tagged with its algorithm (Ockam's `PrimaryPublicKey` / `CredentialVerifyingKey`). */
export interface VerifyingKey {
  /** Ed25519 (32-byte key) or ECDSA-P256 (65-byte uncompressed SEC1 key). */
  algorithm: SignatureAlgorithm;
  /** The public key bytes. */
  publicKey: Uint8Array;
}

/** A 64-byte signature tagged with its algorithm (Ockam's `ChangeSignature` and friends). */
export interface TypedSignature {
  /** Ed25519 or ECDSA-P256 (raw `r || s`). */
  algorithm: SignatureAlgorithm;
  /** The 64 signature bytes. */
  signature: Uint8Array;
}
