/**
 * Secure channels and the Noise Protocol core they stand on.
 *
 * @module
 */
export * from "./epoch_keys.ts";
export * from "./messages.ts";
export * from "./replay_window.ts";
export { ChannelError, HandshakeError, SealrouteError } from "../errors.ts";
