/**
 * Noise protocol names (§8, §12): `Noise_<pattern>_<dh>_<cipher>_<hash>` parsed into a
 * pattern and the crypto functions the vault runs, plus Ockam's XX profile.
 *
 * @module
 */
import { HandshakeError } from "../errors.ts";
import type { AeadAlgorithm, DhAlgorithm, HashName } from "../vault/mod.ts";
import { type HandshakePattern, handshakePattern } from "./patterns.ts";

export type { HashName };

/** A Noise DH function name (§12.1, §12.2). */
export type DhName = "25519" | "448";

/** A Noise cipher function name (§12.3, §12.4). */
export type CipherName = "AESGCM" | "ChaChaPoly";

/** A Noise protocol resolved from its name. */
export interface NoiseProtocol {
  /** The protocol name exactly as given; its bytes initialise the symmetric state (§5.2). */
  readonly name: string;
  /** The handshake pattern, with modifiers applied. */
  readonly pattern: HandshakePattern;
  /** The DH function. */
  readonly dh: DhName;
  /** The cipher function. */
  readonly cipher: CipherName;
  /** The hash function. */
  readonly hash: HashName;
  /**
   * Whether `Split()` swaps its outputs (Ockam's profile, OCKAM_WIRE §3.1): the cipher
   * state for initiator→responder traffic is keyed with the second HKDF output.
   */
  readonly reversedSplit: boolean;
}

/**
 * Ockam's secure-channel protocol name (OCKAM_WIRE §3.1): Noise XX over X25519,
 * AES-256-GCM and SHA-256, with an empty prologue and the split outputs swapped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OCKAM_XX_PROTOCOL_NAME } from "./suite.ts";
 * assert(OCKAM_XX_PROTOCOL_NAME.length === 32);
 * ```
 */
export const OCKAM_XX_PROTOCOL_NAME = "OCKAM_XX_25519_AES256_GCM_SHA256";

const DH_NAMES: readonly string[] = ["25519", "448"];
const CIPHER_NAMES: readonly string[] = ["AESGCM", "ChaChaPoly"];
const HASH_NAMES: readonly string[] = ["SHA256", "SHA512", "BLAKE2s", "BLAKE2b"];

const CACHE = new Map<string, NoiseProtocol>();

/**
 * Resolves a protocol name such as `"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s"` or
 * {@linkcode OCKAM_XX_PROTOCOL_NAME}. A malformed name is a `HandshakeError`
 * `"unknown-protocol"`, an unknown pattern `"unknown-pattern"`, an unknown DH, cipher or
 * hash `"unknown-function"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProtocolName } from "./suite.ts";
 * const p = parseProtocolName("Noise_IKpsk2_448_AESGCM_BLAKE2b");
 * assert(p.pattern.name === "IKpsk2" && p.dh === "448" && p.hash === "BLAKE2b");
 * ```
 */
export function parseProtocolName(name: string): NoiseProtocol {
  const cached = CACHE.get(name);
  if (cached) return cached;
  let protocol: NoiseProtocol;
  if (name === OCKAM_XX_PROTOCOL_NAME) {
    protocol = {
      name,
      pattern: handshakePattern("XX"),
      dh: "25519",
      cipher: "AESGCM",
      hash: "SHA256",
      reversedSplit: true,
    };
  } else {
    const parts = typeof name === "string" ? name.split("_") : [];
    if (parts.length !== 5 || parts[0] !== "Noise") {
      throw new HandshakeError(
        "unknown-protocol",
        `expected Noise_<pattern>_<dh>_<cipher>_<hash> or ${OCKAM_XX_PROTOCOL_NAME}, got '${
          String(name).slice(0, 80)
        }'`,
      );
    }
    const [, patternName, dh, cipher, hash] = parts as [string, string, string, string, string];
    const pattern = handshakePattern(patternName);
    checkFunction("DH", dh, DH_NAMES);
    checkFunction("cipher", cipher, CIPHER_NAMES);
    checkFunction("hash", hash, HASH_NAMES);
    protocol = {
      name,
      pattern,
      dh: dh as DhName,
      cipher: cipher as CipherName,
      hash: hash as HashName,
      reversedSplit: false,
    };
  }
  Object.freeze(protocol);
  CACHE.set(name, protocol);
  return protocol;
}

function checkFunction(kind: string, name: string, known: readonly string[]): void {
  if (!known.includes(name)) {
    throw new HandshakeError(
      "unknown-function",
      `unknown ${kind} function '${name}', expected one of ${known.join(", ")}`,
    );
  }
}

// Internal mapping from Noise names to vault algorithms.

/** The vault algorithm of a Noise DH name. */
export function dhAlgorithm(dh: DhName): DhAlgorithm {
  return dh === "25519" ? "X25519" : "X448";
}

/** DHLEN (§4.1): public key and shared secret length. */
export function dhLength(dh: DhName): number {
  return dh === "25519" ? 32 : 56;
}

/** Private key length the vault imports for `dh`. */
export function privateKeyLength(dh: DhName): number {
  return dh === "25519" ? 32 : 56;
}

/** The vault AEAD of a Noise cipher name. */
export function aeadAlgorithm(cipher: CipherName): AeadAlgorithm {
  return cipher === "AESGCM" ? "AES-256-GCM" : "ChaCha20-Poly1305";
}
