// Raw private keys to and from WebCrypto. WebCrypto imports bare private keys only as
// PKCS#8, and exposes public keys of private ones only through JWK.
import { buf, concat, fromHex } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import { loadNoble } from "./backend.ts";

// PKCS#8 prefixes for a bare private key: RFC 8410 (OKP) and RFC 5915 without the
// optional public key (P-256).
export const PKCS8_PREFIX: Record<string, string> = {
  X25519: "302e020100300506032b656e04220420",
  X448: "3046020100300506032b656f043a0438",
  Ed25519: "302e020100300506032b657004220420",
  "ECDSA-P256": "308141020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420",
};

// RFC 5915 ECPrivateKey with its optional [1] publicKey (65 bytes follow this prefix's
// scalar part): the form Deno's WebCrypto insists on.
const P256_WITH_PUBLIC = [
  "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420",
  "a144034200",
] as const;

export const PRIVATE_LENGTH: Record<string, number> = {
  X25519: 32,
  X448: 56,
  Ed25519: 32,
  "ECDSA-P256": 32,
};

export const PUBLIC_LENGTH: Record<string, number> = {
  X25519: 32,
  X448: 56,
  Ed25519: 32,
  "ECDSA-P256": 65,
};

/** Throws `VaultError` `bad-key-length` unless `key` has the length `algorithm`'s `kind` key has. */
export function checkKeyLength(
  algorithm: string,
  kind: "public" | "private",
  key: Uint8Array,
): void {
  const expected = (kind === "public" ? PUBLIC_LENGTH : PRIVATE_LENGTH)[algorithm];
  if (key.length !== expected) {
    throw new VaultError(
      "bad-key-length",
      `${algorithm} ${kind} key must be ${expected} bytes, got ${key.length}`,
    );
  }
}

/** The raw public key of a freshly generated WebCrypto key pair, with its private key. */
export async function generatePair(
  algorithm: string,
  extractable: boolean,
  usages: KeyUsage[],
): Promise<{ key: CryptoKey; publicKey: Uint8Array }> {
  const pair = await crypto.subtle.generateKey(
    webAlgorithm(algorithm) as EcKeyGenParams,
    extractable,
    usages,
  ) as CryptoKeyPair;
  return {
    key: pair.privateKey,
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
  };
}

export function webAlgorithm(
  name: string,
): AlgorithmIdentifier | EcKeyImportParams {
  return name === "ECDSA-P256" ? { name: "ECDSA", namedCurve: "P-256" } : { name };
}

export function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Imports `secret` as a private CryptoKey and returns it with its raw public key. */
export async function importPrivate(
  name: string,
  secret: Uint8Array,
  usages: KeyUsage[],
  extractable: boolean,
): Promise<{ key: CryptoKey; publicKey: Uint8Array }> {
  let der = buf(concat(fromHex(PKCS8_PREFIX[name]!), secret));
  const algorithm = webAlgorithm(name);
  let exportable: CryptoKey;
  try {
    exportable = await crypto.subtle.importKey("pkcs8", der, algorithm, true, usages);
  } catch (error) {
    if (name !== "ECDSA-P256") throw error;
    // Deno's WebCrypto rejects a P-256 PKCS#8 key without the optional public key and
    // checks it against the scalar. WebCrypto cannot compute it, so noble does, loaded only
    // here (runtimes that accept the bare form never get this far).
    const publicKey = (await loadNoble()).publicKeyOf(name, secret);
    der = buf(concat(
      fromHex(P256_WITH_PUBLIC[0]),
      secret,
      fromHex(P256_WITH_PUBLIC[1]),
      publicKey,
    ));
    exportable = await crypto.subtle.importKey("pkcs8", der, algorithm, true, usages);
  }
  const publicKey = publicFromJwk(
    name,
    await crypto.subtle.exportKey("jwk", exportable),
  );
  const key = extractable
    ? exportable
    : await crypto.subtle.importKey("pkcs8", der, algorithm, false, usages);
  return { key, publicKey };
}

function publicFromJwk(name: string, jwk: JsonWebKey): Uint8Array {
  if (name === "ECDSA-P256") {
    return concat(
      new Uint8Array([4]),
      base64UrlDecode(jwk.x!),
      base64UrlDecode(jwk.y!),
    );
  }
  return base64UrlDecode(jwk.x!);
}

/** The raw private scalar or seed of an extractable key. */
export async function exportPrivate(key: CryptoKey): Promise<Uint8Array> {
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return base64UrlDecode(jwk.d!);
}
