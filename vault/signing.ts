/**
 * Signatures: Ed25519 (RFC 8032) and ECDSA P-256 with SHA-256, raw 64-byte `r || s`.
 *
 * Ed25519 runs on an installed native implementation where a runtime adapter put one
 * (`installNativeCurves`), else WebCrypto, else noble. Verification accepts the same set of
 * signatures on every backend: Ed25519 as strictly as WebCrypto (canonical encodings,
 * `S < L`), P-256 with high-S accepted as Ockam does.
 *
 * @module
 */
import { buf } from "../_bytes.ts";
import { VaultError } from "../errors.ts";
import { loadNoble, pickBackend } from "./backend.ts";
import type { KeyOptions } from "./key_agreement.ts";
import {
  type CurveBackendOptions,
  nativeCurvesFor,
  type NativeEd25519Key,
  portableOptions,
  type SyncSigningKey,
} from "./native_curves.ts";
import {
  checkKeyLength,
  exportPrivate,
  generatePair,
  importPrivate,
  webAlgorithm,
} from "./_pkcs8.ts";

/** A signature algorithm by name. */
export type SignatureAlgorithm = "Ed25519" | "ECDSA-P256";

/** A private key that signs; a KMS, secure element or TPM can stand behind this interface. */
export interface SigningKey {
  /** The algorithm. */
  readonly algorithm: SignatureAlgorithm;
  /** The public key: 32 bytes (Ed25519) or 65-byte uncompressed SEC1 (P-256). */
  readonly publicKey: Uint8Array;
  /** Signs `data`, returning 64 bytes. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A signing key whose secret may be exported (only when created extractable). */
export interface ExportableSigningKey extends SigningKey {
  /** The raw private key (Ed25519 seed or P-256 scalar); a `VaultError` unless extractable. */
  exportPrivateKey(): Promise<Uint8Array>;
}

const SIGN_PARAMS = {
  Ed25519: { name: "Ed25519" },
  "ECDSA-P256": { name: "ECDSA", hash: "SHA-256" },
} as const;

function checkAlgorithm(algorithm: SignatureAlgorithm): void {
  if (algorithm !== "Ed25519" && algorithm !== "ECDSA-P256") {
    throw new VaultError(
      "unknown-algorithm",
      `unknown signature algorithm '${String(algorithm)}'`,
    );
  }
}

class WebCryptoSigningKey implements ExportableSigningKey {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: Uint8Array;
  #key: CryptoKey;
  constructor(
    algorithm: SignatureAlgorithm,
    key: CryptoKey,
    publicKey: Uint8Array,
  ) {
    this.algorithm = algorithm;
    this.#key = key;
    this.publicKey = publicKey;
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(
      await crypto.subtle.sign(
        SIGN_PARAMS[this.algorithm],
        this.#key,
        buf(data),
      ),
    );
  }
  exportPrivateKey(): Promise<Uint8Array> {
    if (!this.#key.extractable) {
      return Promise.reject(
        new VaultError(
          "not-extractable",
          "this key was not created extractable",
        ),
      );
    }
    return exportPrivate(this.#key);
  }
  toString(): string {
    return `SigningKey(${this.algorithm})`;
  }
}

class NobleSigningKey implements ExportableSigningKey {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: Uint8Array;
  #secret: Uint8Array;
  #extractable: boolean;
  constructor(
    algorithm: SignatureAlgorithm,
    secret: Uint8Array,
    publicKey: Uint8Array,
    extractable: boolean,
  ) {
    this.algorithm = algorithm;
    this.#secret = secret.slice();
    this.publicKey = publicKey;
    this.#extractable = extractable;
  }
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return (await loadNoble()).sign(this.algorithm, this.#secret, data);
  }
  exportPrivateKey(): Promise<Uint8Array> {
    return this.#extractable ? Promise.resolve(this.#secret.slice()) : Promise.reject(
      new VaultError(
        "not-extractable",
        "this key was not created extractable",
      ),
    );
  }
  toString(): string {
    return `SigningKey(${this.algorithm})`;
  }
}

/** Ed25519 on an installed native implementation (see `installNativeCurves`). */
class NativeSigningKey implements ExportableSigningKey, SyncSigningKey {
  readonly algorithm = "Ed25519";
  readonly publicKey: Uint8Array;
  readonly #key: NativeEd25519Key;
  readonly #extractable: boolean;
  constructor(key: NativeEd25519Key, extractable: boolean) {
    this.#key = key;
    this.publicKey = key.publicKey;
    this.#extractable = extractable;
  }
  signSync(data: Uint8Array): Uint8Array {
    return this.#key.sign(data);
  }
  sign(data: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.#key.sign(data));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  exportPrivateKey(): Promise<Uint8Array> {
    return this.#extractable ? Promise.resolve(this.#key.exportPrivate()) : Promise.reject(
      new VaultError("not-extractable", "this key was not created extractable"),
    );
  }
  toString(): string {
    return `SigningKey(${this.algorithm}, native)`;
  }
}

/**
 * Generates a signing key; non-extractable unless `options.extractable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSigningKey, verifySignature } from "@sealroute/sealroute/vault";
 * const key = await generateSigningKey("Ed25519");
 * const data = new TextEncoder().encode("hello");
 * const signature = await key.sign(data);
 * assert(await verifySignature("Ed25519", key.publicKey, data, signature));
 * ```
 */
export async function generateSigningKey(
  algorithm: SignatureAlgorithm,
  options?: KeyOptions,
): Promise<ExportableSigningKey> {
  checkAlgorithm(algorithm);
  const extractable = options?.extractable ?? false;
  const native = nativeCurvesFor(algorithm, options);
  if (native) return new NativeSigningKey(native.generateEd25519(), extractable);
  if (await pickBackend(algorithm, portableOptions(options)) === "noble") {
    const n = await loadNoble();
    const secret = n.randomSecret(algorithm);
    return new NobleSigningKey(
      algorithm,
      secret,
      n.publicKeyOf(algorithm, secret),
      extractable,
    );
  }
  const { key, publicKey } = await generatePair(algorithm, extractable, ["sign", "verify"]);
  return new WebCryptoSigningKey(algorithm, key, publicKey);
}

/**
 * Imports a raw private key: a 32-byte Ed25519 seed or a 32-byte P-256 scalar.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importSigningKey } from "@sealroute/sealroute/vault";
 * const key = await importSigningKey("Ed25519", new Uint8Array(32));
 * assert(key.publicKey.length === 32);
 * ```
 */
export async function importSigningKey(
  algorithm: SignatureAlgorithm,
  privateKey: Uint8Array,
  options?: KeyOptions,
): Promise<ExportableSigningKey> {
  checkAlgorithm(algorithm);
  checkKeyLength(algorithm, "private", privateKey);
  const extractable = options?.extractable ?? false;
  const native = nativeCurvesFor(algorithm, options);
  if (native) {
    try {
      return new NativeSigningKey(native.importEd25519(privateKey), extractable);
    } catch (cause) {
      throw new VaultError("bad-private-key", `not a valid ${algorithm} private key`, { cause });
    }
  }
  if (await pickBackend(algorithm, portableOptions(options)) === "noble") {
    const n = await loadNoble();
    try {
      return new NobleSigningKey(
        algorithm,
        privateKey,
        n.publicKeyOf(algorithm, privateKey),
        extractable,
      );
    } catch (cause) {
      throw new VaultError(
        "bad-private-key",
        `not a valid ${algorithm} private key`,
        { cause },
      );
    }
  }
  try {
    const { key, publicKey } = await importPrivate(algorithm, privateKey, [
      "sign",
    ], extractable);
    return new WebCryptoSigningKey(algorithm, key, publicKey);
  } catch (cause) {
    throw new VaultError(
      "bad-private-key",
      `not a valid ${algorithm} private key`,
      { cause },
    );
  }
}

/**
 * Verifies `signature` over `data`. A bad or malformed signature, or a public key that is
 * not a curve point, gives `false`; a public key of the wrong length is a `VaultError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifySignature } from "@sealroute/sealroute/vault";
 * const ok = await verifySignature("Ed25519", new Uint8Array(32), new Uint8Array(), new Uint8Array(64));
 * assert(ok === false);
 * ```
 */
export async function verifySignature(
  algorithm: SignatureAlgorithm,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
  options?: CurveBackendOptions,
): Promise<boolean> {
  checkAlgorithm(algorithm);
  checkKeyLength(algorithm, "public", publicKey);
  if (signature.length !== 64) return false;
  const native = nativeCurvesFor(algorithm, options);
  if (native) {
    try {
      return native.verifyEd25519(publicKey, data, signature);
    } catch {
      return false;
    }
  }
  if (await pickBackend(algorithm, portableOptions(options)) === "noble") {
    return (await loadNoble()).verify(algorithm, publicKey, data, signature);
  }
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      buf(publicKey),
      webAlgorithm(algorithm),
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      SIGN_PARAMS[algorithm],
      key,
      buf(signature),
      buf(data),
    );
  } catch {
    return false;
  }
}
