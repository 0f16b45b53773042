// What a channel knows of its peer (apart from the options, so the persisted channel state
// can name it without importing the options).
import type { VerifiedCredential } from "../identity/mod.ts";

/** The authenticated peer of a channel. */
export interface ChannelPeer {
  /** Its identifier (`I` + 64 hex). */
  readonly identifier: string;
  /** Attributes from its verified credentials (name → value bytes). */
  readonly attributes: Readonly<Record<string, Uint8Array>>;
  /** The credentials the attributes come from (each holds until its `expiresAt`). */
  readonly credentials?: readonly VerifiedCredential[];
}
