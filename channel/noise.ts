/**
 * The Noise Protocol Framework core (revision 34): {@linkcode CipherState} (§5.1),
 * {@linkcode SymmetricState} (§5.2) and {@linkcode HandshakeState} (§5.3), driven by one
 * table of handshake patterns (§7.4–§7.6) with `psk` modifiers (§9), over every suite the
 * vault provides: DH 25519/448, ciphers AESGCM/ChaChaPoly, hashes
 * SHA256/SHA512/BLAKE2s/BLAKE2b (§12). Ockam's secure-channel profile
 * {@linkcode OCKAM_XX_PROTOCOL_NAME} is the same XX code with the split outputs swapped.
 *
 * No I/O: callers move the bytes.
 *
 * @example Ockam's XX profile
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandshakeState, OCKAM_XX_PROTOCOL_NAME } from "./noise.ts";
 * import { generateKeyAgreementKey } from "../vault/mod.ts";
 *
 * const protocolName = OCKAM_XX_PROTOCOL_NAME;
 * const i = await HandshakeState.create({
 *   protocolName, initiator: true, staticKey: await generateKeyAgreementKey("X25519"),
 * });
 * const r = await HandshakeState.create({
 *   protocolName, initiator: false, staticKey: await generateKeyAgreementKey("X25519"),
 * });
 * while (!i.isComplete) {
 *   const [from, to] = i.isMyTurn ? [i, r] : [r, i];
 *   await to.readMessage(await from.writeMessage(new Uint8Array()));
 * }
 * const [iOut] = await i.split();
 * const [rIn] = await r.split();
 * const ct = await iOut.encryptAt(7n, new Uint8Array(), new Uint8Array([1]));
 * assert.deepEqual(await rIn.decryptAt(7n, new Uint8Array(), ct), new Uint8Array([1]));
 * ```
 *
 * @module
 */
export { CipherState } from "./cipher_state.ts";
export { SymmetricState } from "./symmetric_state.ts";
export { type HandshakeOptions, HandshakeState, MAX_MESSAGE_LENGTH } from "./handshake_state.ts";
export {
  type HandshakePattern,
  handshakePattern,
  type MessageToken,
  PATTERN_NAMES,
  type PreMessageToken,
} from "./patterns.ts";
export {
  type CipherName,
  type DhName,
  type HashName,
  type NoiseProtocol,
  OCKAM_XX_PROTOCOL_NAME,
  parseProtocolName,
} from "./suite.ts";
export type { DhAlgorithm, KeyAgreementKey } from "../vault/mod.ts";
