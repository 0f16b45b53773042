/**
 * Mutually authenticated, end-to-end secure channels over any route, and the Noise
 * Protocol core they stand on.
 *
 * A channel is a pair of workers: an encryptor on this node and a decryptor on the
 * peer's, with any number of transports, relays or other channels between them that see
 * only ciphertext. The protocol is Ockam's (Noise XX, X25519, AES-256-GCM, SHA-256;
 * identity change histories, purpose-key attestations and credentials in messages 2 and
 * 3; explicit 8-byte nonces and a rekey every 32 messages), so a Sealroute node and an
 * Ockam node can talk. The receiver goes further than Ockam's: it catches up across up to
 * 2^20 lost messages and accepts reordering within a window of 1024 messages, each
 * message exactly once.
 *
 * The Noise core ({@linkcode HandshakeState}, {@linkcode CipherState},
 * {@linkcode SymmetricState}) implements the whole specification (revision 34): every
 * named pattern, psk modifiers, and every suite of §12.
 *
 * @example A channel and an access policy on the worker behind it
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   abacAccessControl,
 *   createSecureChannel,
 *   createSecureChannelListener,
 * } from "@sealroute/sealroute/channel";
 * import { createIdentity, issueCredential } from "@sealroute/sealroute/identity";
 * import { Node } from "@sealroute/sealroute/routing";
 * import { Vault } from "@sealroute/sealroute/vault";
 *
 * await using node = new Node();
 * const authority = await createIdentity(new Vault());
 * const device = await createIdentity(new Vault());
 * const operator = await createIdentity(new Vault());
 * await operator.addCredential(
 *   await issueCredential({ issuer: authority, subject: operator.identity, attributes: { role: "operator" } }),
 * );
 * const listener = await createSecureChannelListener(node, "api", {
 *   identity: device,
 *   authorities: [authority.identity],
 * });
 * // Reachable through this listener's channels (their flow), and by operators only.
 * node.startWorker("commands", (ctx) => ctx.reply(new TextEncoder().encode("done")), {
 *   incoming: abacAccessControl('(= subject.role "operator")'),
 *   consumes: [listener.flow],
 * });
 * const channel = await createSecureChannel(node, "api", { identity: operator });
 * const reply = await channel.request("commands", new TextEncoder().encode("reboot"));
 * assert.equal(new TextDecoder().decode(reply.payload), "done");
 * await channel.close();
 * ```
 *
 * @module
 */
export * from "./access_control.ts";
export * from "./channel_state.ts";
export * from "./create_secure_channel.ts";
export * from "./decryptor.ts";
export * from "./encryptor.ts";
export * from "./epoch_keys.ts";
export * from "./messages.ts";
export * from "./noise.ts";
export * from "./replay_window.ts";
export * from "./resume.ts";
export * from "./secure_channel.ts";
export * from "./secure_channel_listener.ts";
export * from "./secure_channel_options.ts";
export { ChannelError, HandshakeError, SealrouteError } from "../errors.ts";
export type { ChannelJournal } from "./_channel_journal.ts";
