// X25519 and Ed25519 from `node:crypto`, synchronous (Deno and Node adapters only). Private
// keys live in KeyObjects, outside the JavaScript heap: generated keys never enter it, and
// the PKCS#8 copy an import builds is zeroed once imported.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { fromHex } from "../_bytes.ts";
import { base64UrlDecode, PKCS8_PREFIX } from "./_pkcs8.ts";
import type { NativeCurves, NativeEd25519Key, NativeX25519Key } from "./native_curves.ts";

type Curve = "X25519" | "Ed25519";

// RFC 8410 DER prefixes: a bare private key (PKCS#8, shared with the WebCrypto path) and a
// public key (SPKI).
const PKCS8: Record<Curve, readonly number[]> = {
  X25519: [...fromHex(PKCS8_PREFIX.X25519!)],
  Ed25519: [...fromHex(PKCS8_PREFIX.Ed25519!)],
};
const SPKI: Record<Curve, readonly number[]> = {
  X25519: [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00],
  Ed25519: [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00],
};
const KEY_LENGTH = 32;

// A Buffer of its own memory (not the shared pool), so zeroing it wipes the only copy.
function der(prefix: readonly number[], key: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
}

function importPrivateKey(curve: Curve, raw: Uint8Array): KeyObject {
  const pkcs8 = der(PKCS8[curve], raw);
  try {
    return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  } finally {
    pkcs8.fill(0);
  }
}

function rawPublic(key: KeyObject): Uint8Array {
  const spki = key.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - KEY_LENGTH));
}

function rawPrivate(key: KeyObject): Uint8Array {
  return base64UrlDecode(key.export({ format: "jwk" }).d ?? "");
}

// The last few peer public keys, imported (public data only): a Noise XX handshake agrees
// with the peer's ephemeral twice, and an identity's keys verify several signatures.
const PUBLIC_CACHE_SIZE = 8;
const publicKeys = new Map<string, KeyObject>();

function importPublicKey(curve: Curve, raw: Uint8Array): KeyObject {
  const id = curve + String.fromCharCode(...raw);
  const cached = publicKeys.get(id);
  if (cached) return cached;
  const key = createPublicKey({ key: der(SPKI[curve], raw), format: "der", type: "spki" });
  publicKeys.set(id, key);
  if (publicKeys.size > PUBLIC_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value!);
  return key;
}

class NodeX25519Key implements NativeX25519Key {
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(key: KeyObject, publicKey: Uint8Array) {
    this.#key = key;
    this.publicKey = publicKey;
  }

  derive(peerPublicKey: Uint8Array): Uint8Array {
    const secret = new Uint8Array(
      diffieHellman({ privateKey: this.#key, publicKey: importPublicKey("X25519", peerPublicKey) }),
    );
    // RFC 7748 §6.1: an all-zero output means a low-order peer key (OpenSSL refuses it
    // already; checked here too so every runtime's node:crypto gives the same verdict).
    let any = 0;
    for (const byte of secret) any |= byte;
    if (any === 0) throw new RangeError("low-order X25519 public key");
    return secret;
  }

  exportPrivate(): Uint8Array {
    return rawPrivate(this.#key);
  }

  toString(): string {
    return "NativeX25519Key(node:crypto)";
  }
}

class NodeEd25519Key implements NativeEd25519Key {
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(key: KeyObject, publicKey: Uint8Array) {
    this.#key = key;
    this.publicKey = publicKey;
  }

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, data, this.#key));
  }

  exportPrivate(): Uint8Array {
    return rawPrivate(this.#key);
  }

  toString(): string {
    return "NativeEd25519Key(node:crypto)";
  }
}

function generate(curve: Curve): { key: KeyObject; publicKey: Uint8Array } {
  const pair = curve === "X25519" ? generateKeyPairSync("x25519") : generateKeyPairSync("ed25519");
  return { key: pair.privateKey, publicKey: rawPublic(pair.publicKey) };
}

function imported(curve: Curve, raw: Uint8Array): { key: KeyObject; publicKey: Uint8Array } {
  const key = importPrivateKey(curve, raw);
  return { key, publicKey: rawPublic(createPublicKey(key)) };
}

/** `node:crypto`'s X25519 and Ed25519, synchronous, keys held in KeyObjects. */
export function nodeCryptoCurves(): NativeCurves {
  return {
    name: "node:crypto",
    generateX25519: () => {
      const { key, publicKey } = generate("X25519");
      return new NodeX25519Key(key, publicKey);
    },
    importX25519: (raw) => {
      const { key, publicKey } = imported("X25519", raw);
      return new NodeX25519Key(key, publicKey);
    },
    generateEd25519: () => {
      const { key, publicKey } = generate("Ed25519");
      return new NodeEd25519Key(key, publicKey);
    },
    importEd25519: (seed) => {
      const { key, publicKey } = imported("Ed25519", seed);
      return new NodeEd25519Key(key, publicKey);
    },
    verifyEd25519: (publicKey, data, signature) =>
      verify(null, data, importPublicKey("Ed25519", publicKey), signature),
  };
}
