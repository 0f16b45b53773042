/**
 * Payloads identities travel in: the secure-channel handshake's `IdentityAndCredentials`
 * (OCKAM_WIRE §3.2, Noise XX messages 2 and 3) and the fields of the transport-phase
 * `RefreshCredentials` message (§3.6). In both, the change history is embedded as the
 * CBOR array itself, not wrapped in a byte string; it is kept byte for byte.
 *
 * @module
 */
import { concat } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";
import { arrayHeader, arrayOf, type CborItem, encodeCbor, parseCbor } from "./_cbor.ts";
import { changeHistoryFromItem } from "./change_history.ts";
import {
  type CredentialAndPurposeKey,
  credentialAndPurposeKeyFromItem,
  credentialAndPurposeKeyToCbor,
} from "./credential.ts";
import {
  encodePurposeKeyAttestation,
  type PurposeKeyAttestation,
  purposeKeyAttestationFromItem,
} from "./purpose_key.ts";

/** The handshake payload: Ockam's `IdentityAndCredentials`. */
export interface IdentityAndCredentials {
  /** The sender's change history CBOR (embedded as is). */
  changeHistory: Uint8Array;
  /** Attestation of the sender's secure-channel key (the Noise static key). */
  purposeKeyAttestation: PurposeKeyAttestation;
  /** Credentials the sender presents (Ockam sends 0 or 1). */
  credentials: CredentialAndPurposeKey[];
}

/** The fields of Ockam's `RefreshCredentialsMessage`. */
export interface RefreshCredentials {
  /** The sender's change history CBOR (embedded as is). */
  changeHistory: Uint8Array;
  /** The new credentials. */
  credentials: CredentialAndPurposeKey[];
}

function historyBytes(changeHistory: Uint8Array): Uint8Array {
  // Must be one CBOR array of changes; checked so the payload is well-formed.
  changeHistoryFromItem(parseCbor(changeHistory, "ChangeHistory"));
  return changeHistory;
}

function historyFromItem(bytes: Uint8Array, item: CborItem | undefined): Uint8Array {
  if (item === undefined) throw new DecodeError("bad-length", "missing change history");
  changeHistoryFromItem(item);
  return bytes.slice(item.start, item.end);
}

function credentialsFromItem(item: CborItem | undefined): CredentialAndPurposeKey[] {
  if (item?.kind !== "array") {
    throw new DecodeError("unexpected-type", `credentials: expected an array, got ${item?.kind}`);
  }
  return item.items.map(credentialAndPurposeKeyFromItem);
}

/**
 * CBOR of a handshake payload: `[change_history, attestation, [credentials...]]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   decodeIdentityAndCredentials,
 *   encodeIdentityAndCredentials,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault());
 * const { attestation } = await me.createSecureChannelKey();
 * const payload = encodeIdentityAndCredentials({
 *   changeHistory: me.changeHistory,
 *   purposeKeyAttestation: attestation,
 *   credentials: [],
 * });
 * assert.equal(payload[0], 0x83);
 * assert.deepEqual(decodeIdentityAndCredentials(payload).changeHistory, me.changeHistory);
 * ```
 */
export function encodeIdentityAndCredentials(payload: IdentityAndCredentials): Uint8Array {
  return concat(
    arrayHeader(3),
    historyBytes(payload.changeHistory),
    encodePurposeKeyAttestation(payload.purposeKeyAttestation),
    encodeCbor(payload.credentials.map(credentialAndPurposeKeyToCbor)),
  );
}

/**
 * Decodes a handshake payload (without verifying it); malformed bytes are a
 * `DecodeError`. The change history comes back exactly as received.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIdentityAndCredentials } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodeIdentityAndCredentials(new Uint8Array([0x83, 0x80, 0x80, 0x80])), {
 *   name: "DecodeError",
 * });
 * ```
 */
export function decodeIdentityAndCredentials(bytes: Uint8Array): IdentityAndCredentials {
  const [history, attestation, credentials] = arrayOf(
    parseCbor(bytes, "IdentityAndCredentials"),
    "IdentityAndCredentials",
    3,
  );
  return {
    changeHistory: historyFromItem(bytes, history),
    purposeKeyAttestation: purposeKeyAttestationFromItem(attestation!),
    credentials: credentialsFromItem(credentials),
  };
}

/**
 * CBOR of the `RefreshCredentialsMessage` fields: `[change_history, [credentials...]]`.
 * (Inside a secure-channel message it is variant 1: `[1, [this]]`.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   createIdentity,
 *   decodeRefreshCredentials,
 *   encodeRefreshCredentials,
 * } from "@sealroute/sealroute/identity";
 * import { Vault } from "@sealroute/sealroute/vault";
 * const me = await createIdentity(new Vault());
 * const bytes = encodeRefreshCredentials({ changeHistory: me.changeHistory, credentials: [] });
 * assert.deepEqual(decodeRefreshCredentials(bytes).credentials, []);
 * ```
 */
export function encodeRefreshCredentials(message: RefreshCredentials): Uint8Array {
  return concat(
    arrayHeader(2),
    historyBytes(message.changeHistory),
    encodeCbor(message.credentials.map(credentialAndPurposeKeyToCbor)),
  );
}

/**
 * Decodes the `RefreshCredentialsMessage` fields; malformed bytes are a `DecodeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRefreshCredentials } from "@sealroute/sealroute/identity";
 * assert.throws(() => decodeRefreshCredentials(new Uint8Array([0x81, 0x80])), {
 *   code: "bad-length",
 * });
 * ```
 */
export function decodeRefreshCredentials(bytes: Uint8Array): RefreshCredentials {
  const [history, credentials] = arrayOf(
    parseCbor(bytes, "RefreshCredentials"),
    "RefreshCredentials",
    2,
  );
  return {
    changeHistory: historyFromItem(bytes, history),
    credentials: credentialsFromItem(credentials),
  };
}
