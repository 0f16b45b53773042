// What both ends of the Ockam handshake share: the identity payload each sends in
// messages 2 and 3 (OCKAM_WIRE §3.2), and the checks on the one it receives.
import { HandshakeError, SealrouteError } from "../errors.ts";
import {
  type CredentialAndPurposeKey,
  encodeIdentityAndCredentials,
  type Identity,
  type SecureChannelKey,
  verifyIdentityAndCredentials,
} from "../identity/mod.ts";
import type { Node } from "../routing/node.ts";
import { HandshakeState } from "./handshake_state.ts";
import type { ChannelPeer, SecureChannelOptions } from "./secure_channel_options.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "./suite.ts";
import { peerWith } from "./_peer_credentials.ts";

/** This end's Noise state, static key and handshake payload. */
export interface LocalHandshake {
  hs: HandshakeState;
  payload: Uint8Array;
}

export async function startHandshake(
  options: SecureChannelOptions,
  initiator: boolean,
): Promise<LocalHandshake> {
  const clock = options.clock ? { clock: options.clock } : {};
  const key: SecureChannelKey = await options.identity.secureChannelKey(clock);
  const hs = await HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator,
    staticKey: key.key,
  });
  const payload = payloadFor(
    key,
    options.identity.changeHistory,
    options.credentialSource?.credentials ?? options.credentials ?? options.identity.credentials,
  );
  return { hs, payload };
}

interface EncodedPayload {
  changeHistory: Uint8Array;
  credentials: readonly CredentialAndPurposeKey[];
  bytes: Uint8Array;
}

// The last payload encoded for each purpose key: the same bytes for every handshake until
// the history or the credentials presented change (compared by reference).
const payloads = new WeakMap<SecureChannelKey, EncodedPayload>();

function payloadFor(
  key: SecureChannelKey,
  changeHistory: Uint8Array,
  credentials: readonly CredentialAndPurposeKey[],
): Uint8Array {
  const last = payloads.get(key);
  if (
    last && last.changeHistory === changeHistory &&
    last.credentials.length === credentials.length &&
    last.credentials.every((c, i) => c === credentials[i])
  ) {
    return last.bytes;
  }
  const bytes = encodeIdentityAndCredentials({
    changeHistory,
    purposeKeyAttestation: key.attestation,
    credentials: [...credentials],
  });
  payloads.set(key, { changeHistory, credentials: [...credentials], bytes });
  return bytes;
}

// The verified identity behind each peer verifyPeer returned, for the channel's
// RefreshCredentials checks (a refresh with the same history is not verified again).
const identities = new WeakMap<ChannelPeer, Identity>();

/** The identity `peer` was verified as, if it came from {@linkcode verifyPeer}. */
export function identityOf(peer: ChannelPeer): Identity | undefined {
  return identities.get(peer);
}

/** The bounds of `options` on what a peer presents, for identity's checks. */
export function peerLimits(
  options: SecureChannelOptions,
): { maxChanges?: number; maxCredentials?: number; maxCredentialSize?: number } {
  return {
    ...(options.maxChanges !== undefined ? { maxChanges: options.maxChanges } : {}),
    ...(options.maxCredentials !== undefined ? { maxCredentials: options.maxCredentials } : {}),
    ...(options.maxCredentialSize !== undefined
      ? { maxCredentialSize: options.maxCredentialSize }
      : {}),
  };
}

/**
 * Checks the peer's identity payload against the Noise static key it used, its
 * credentials against the authorities, and the trust policy (Ockam's
 * `process_identity_payload_static`), cheap checks (sizes, the policy on the claimed
 * identifier) before any signature. Throws `TrustError`/`DecodeError` on refusal.
 */
export async function verifyPeer(
  hs: HandshakeState,
  payload: Uint8Array,
  options: SecureChannelOptions,
): Promise<ChannelPeer> {
  const remoteStaticKey = hs.remoteStaticKey;
  if (!remoteStaticKey) throw new HandshakeError("missing-key", "the peer sent no static key");
  const verified = await verifyIdentityAndCredentials(payload, {
    remoteStaticKey,
    ...(options.authorities ? { authorities: options.authorities } : {}),
    ...(options.trustPolicy ? { trustPolicy: options.trustPolicy } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...peerLimits(options),
  });
  const peer = peerWith(verified.identity.identifier, verified.credentials);
  identities.set(peer, verified.identity);
  return peer;
}

/** Log fields for an error, without secrets: its code (if typed) and message. */
export function errorFields(error: unknown): Record<string, unknown> {
  return error instanceof SealrouteError
    ? { code: error.code, error: error.message }
    : { error: String(error) };
}

/** Logs a handshake failure without secrets: its code and message. */
export function logFailure(node: Node, what: string, error: unknown): void {
  node.logger.warn(what, errorFields(error));
}
