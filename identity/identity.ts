/**
 * Verified identities: importing a change history checks every change (OCKAM_WIRE §4.3)
 * and yields an {@linkcode Identity} whose identifier is the hash of the first change.
 *
 * @module
 */
import { equalBytes, toHex } from "../_bytes.ts";
import { TrustError } from "../errors.ts";
import { parseCbor } from "./_cbor.ts";
import { sha256, verifyHash } from "./_common.ts";
import {
  type Change,
  type ChangeData,
  changeHistoryFromItem,
  decodeChangeData,
} from "./change_history.ts";
import { formatIdentifier, parseIdentifier } from "./identifier.ts";
import type { VerifyingKey } from "./types.ts";

/** A change that passed verification, with its hash. */
export interface VerifiedChange {
  /** `SHA256(change.data)`. */
  readonly changeHash: Uint8Array;
  /** The decoded change. */
  readonly data: ChangeData;
}

const VERIFIED: unique symbol = Symbol("verified");

/**
 * An identity whose change history has been verified. Obtain one from
 * {@linkcode importIdentity} (or from a local identity); the constructor is not for
 * direct use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createIdentity, importIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const local = await createIdentity(new Vault());
 * const peer = await importIdentity(local.changeHistory);
 * assert.equal(peer.identifier, local.identifier);
 * assert.equal(peer.changes.length, 1);
 * ```
 */
export class Identity {
  /** The identifier's text form, `"I"` + 64 hex characters. */
  readonly identifier: string;
  /** The change history exactly as imported (do not modify). */
  readonly changeHistory: Uint8Array;
  /** The verified changes, oldest first (never empty). */
  readonly changes: readonly VerifiedChange[];

  /** Internal: use {@linkcode importIdentity}. */
  constructor(
    token: typeof VERIFIED,
    changeHistory: Uint8Array,
    changes: readonly VerifiedChange[],
  ) {
    if (token !== VERIFIED || changes.length === 0) {
      throw new TypeError("identities come from importIdentity()");
    }
    this.changeHistory = changeHistory;
    this.changes = Object.freeze([...changes]);
    this.identifier = formatIdentifier(changes[0]!.changeHash);
  }

  /** The latest change. */
  get latestChange(): VerifiedChange {
    return this.changes[this.changes.length - 1]!;
  }

  /** The hash of the latest change (what purpose-key attestations reference). */
  get latestChangeHash(): Uint8Array {
    return this.latestChange.changeHash;
  }

  /** The current primary public key. */
  get primaryPublicKey(): VerifyingKey {
    return this.latestChange.data.primaryPublicKey;
  }

  /** The change history as lowercase hex (Ockam's `export_as_string`). */
  exportHex(): string {
    return toHex(this.changeHistory);
  }

  /** `Identity(I…)`. */
  toString(): string {
    return `Identity(${this.identifier})`;
  }
}

/**
 * Default bound on the changes of a history {@linkcode importIdentity} verifies. Ockam
 * identities have one change, or a few after rotations; each change costs one or two
 * signature verifications.
 */
export const DEFAULT_MAX_CHANGES = 32;

/** Options of {@linkcode importIdentity}. */
export interface ImportIdentityOptions {
  /**
   * Reject the history unless its identifier is this one (`identifier-mismatch`), checked
   * before any signature is verified.
   */
  expectedIdentifier?: string;
  /**
   * Reject a history of more changes (`too-many-changes`) before verifying any of them.
   * Default {@linkcode DEFAULT_MAX_CHANGES}.
   */
  maxChanges?: number;
}

/** Decodes a history, refusing one of more than `maxChanges` changes before decoding them. */
function boundedChanges(bytes: Uint8Array, maxChanges: number): Change[] {
  const item = parseCbor(bytes, "ChangeHistory");
  if (item.kind === "array" && item.items.length > maxChanges) {
    throw new TrustError(
      "too-many-changes",
      `a change history of ${item.items.length} changes is over the bound of ${maxChanges}`,
    );
  }
  const changes = changeHistoryFromItem(item);
  if (changes.length === 0) {
    throw new TrustError("empty-history", "a change history needs at least one change");
  }
  return changes;
}

/**
 * The identifier a change history claims (the hash of its first change), without
 * verifying any signature: cheap, for checks that can refuse a peer before verification.
 * Undecodable bytes are a `DecodeError`; an empty history or one of more than
 * `maxChanges` changes (default {@linkcode DEFAULT_MAX_CHANGES}) a `TrustError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimedIdentifier } from "./identity.ts";
 * import { createIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault());
 * assert.equal(await claimedIdentifier(me.changeHistory), me.identifier);
 * ```
 */
export async function claimedIdentifier(
  changeHistory: Uint8Array,
  options: { maxChanges?: number } = {},
): Promise<string> {
  const changes = boundedChanges(changeHistory, options.maxChanges ?? DEFAULT_MAX_CHANGES);
  return formatIdentifier(await sha256(changes[0]!.data));
}

/**
 * Verifies a change history (OCKAM_WIRE §4.3) and returns the identity. Cheap checks
 * come first: the number of changes (`maxChanges`) and the expected identifier are
 * checked before any signature is verified.
 *
 * Bytes that do not decode (not CBOR, wrong shapes, unknown key or signature kinds, wrong
 * key/hash/signature lengths, trailing bytes) are a `DecodeError`. A history that decodes
 * but does not verify is a `TrustError`: `empty-history`, `unsupported-version`,
 * `wrong-data-type`, `unexpected-previous-change` (first change names a previous one),
 * `broken-chain`, `validity-regression`, `missing-previous-signature`,
 * `bad-signature`, `bad-previous-signature`, `signature-type-mismatch`,
 * `identifier-mismatch`, `too-many-changes`. Change timestamps are not compared with the
 * current time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importIdentity } from "@sealroute/sealroute/identity";
 * // Ockam's ockam_identity/src/identity/identity.rs::test_display
 * const hex = "81825837830101583285f68200815820f405e06d988fa8039cce1cd0ae607e46847c1b64bc459ca9d89dd9b21ae30681f41a654cebe91a7818eee98200815840494c9b70e8a9ad5593fceb478f722a513b4bd39fa70f4265d584253bc24617d0eb498ce532273f6d0d5326921e013696fce57c20cc6c4008f74b816810f0b009";
 * const bytes = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
 * const identity = await importIdentity(bytes);
 * assert.equal(identity.identifier, "I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819");
 * bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
 * await assert.rejects(importIdentity(bytes), { name: "TrustError", code: "bad-signature" });
 * ```
 */
export async function importIdentity(
  changeHistory: Uint8Array,
  options: ImportIdentityOptions = {},
): Promise<Identity> {
  const expected = options.expectedIdentifier === undefined
    ? undefined
    : parseIdentifier(options.expectedIdentifier);
  const bytes = changeHistory.slice();
  const changes = boundedChanges(bytes, options.maxChanges ?? DEFAULT_MAX_CHANGES);
  if (expected !== undefined) {
    const first = await sha256(changes[0]!.data);
    if (!equalBytes(expected, first)) {
      throw new TrustError(
        "identifier-mismatch",
        `expected identifier ${options.expectedIdentifier}, got ${formatIdentifier(first)}`,
      );
    }
  }
  const verified: VerifiedChange[] = [];
  let previous: { hash: Uint8Array; data: ChangeData } | undefined;
  for (const [i, change] of changes.entries()) {
    const what = `change ${i}`;
    const data = decodeChangeData(change.data);
    const hash = await sha256(change.data);
    if (previous === undefined) {
      if (data.previousChange !== null) {
        throw new TrustError(
          "unexpected-previous-change",
          `${what}: the first change must not reference a previous change`,
        );
      }
    } else {
      // Ockam also rejects a version lower than the previous one; every accepted change
      // has version 1 (decodeChangeData), so that cannot happen here.
      if (previous.data.attestationsValidFrom > data.attestationsValidFrom) {
        throw new TrustError(
          "validity-regression",
          `${what}: attestations_valid_from ${data.attestationsValidFrom} is before the previous change's ${previous.data.attestationsValidFrom}`,
        );
      }
      if (data.previousChange === null || !equalBytes(data.previousChange, previous.hash)) {
        throw new TrustError(
          "broken-chain",
          `${what}: previous_change does not match the hash of change ${i - 1}`,
        );
      }
      if (change.previousSignature === undefined) {
        throw new TrustError(
          "missing-previous-signature",
          `${what}: a rotation must be signed by the previous key`,
        );
      }
      if (
        !await verifyHash(
          previous.data.primaryPublicKey,
          hash,
          change.previousSignature,
          `${what} previous_signature`,
        )
      ) {
        throw new TrustError(
          "bad-previous-signature",
          `${what}: previous_signature does not verify with the previous primary key`,
        );
      }
    }
    // A previous_signature on the first change is ignored, as in Ockam.
    if (!await verifyHash(data.primaryPublicKey, hash, change.signature, `${what} signature`)) {
      throw new TrustError(
        "bad-signature",
        `${what}: signature does not verify with its primary key`,
      );
    }
    verified.push({ changeHash: hash, data });
    previous = { hash, data };
  }
  return new Identity(VERIFIED, bytes, verified);
}

/** How one history relates to another of the same identity (Ockam's `IdentityHistoryComparison`). */
export type HistoryComparison = "equal" | "newer" | "older" | "conflict";

/**
 * Compares `a` with a previously known `b`, as Ockam's `Identity::compare`: `"conflict"`
 * if any change both have differs (by hash), otherwise `"newer"` if `a` has more changes,
 * `"older"` if fewer, `"equal"` if as many. Histories of different identities conflict.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareHistories, createIdentity, importIdentity } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const local = await createIdentity(new Vault());
 * const before = await importIdentity(local.changeHistory);
 * await local.rotate();
 * assert.equal(compareHistories(local.identity, before), "newer");
 * assert.equal(compareHistories(before, local.identity), "older");
 * assert.equal(compareHistories(before, before), "equal");
 * ```
 */
export function compareHistories(a: Identity, b: Identity): HistoryComparison {
  const n = Math.min(a.changes.length, b.changes.length);
  for (let i = 0; i < n; i++) {
    if (!equalBytes(a.changes[i]!.changeHash, b.changes[i]!.changeHash)) return "conflict";
  }
  return a.changes.length > b.changes.length
    ? "newer"
    : a.changes.length < b.changes.length
    ? "older"
    : "equal";
}
