/**
 * Noise `SymmetricState` (§5.2): the chaining key, the handshake hash and a cipher state.
 *
 * @module
 */
import { loadSyncHash, type SyncHash } from "../vault/mod.ts";
import { after } from "./_maybe_sync.ts";
import { CipherState } from "./cipher_state.ts";
import { type CipherName, type NoiseProtocol, parseProtocolName } from "./suite.ts";

const EMPTY = new Uint8Array(0);

/**
 * A Noise symmetric state (§5.2). Each method is one spec operation; `split` yields the
 * transport cipher states, initiator→responder first.
 *
 * @example A handshake's symmetric half, by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { SymmetricState } from "./symmetric_state.ts";
 * const a = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
 * const b = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * await a.mixKey(secret);
 * await b.mixKey(secret);
 * const ct = await a.encryptAndHash(new TextEncoder().encode("hi"));
 * assert(new TextDecoder().decode(await b.decryptAndHash(ct)) === "hi");
 * assert.deepEqual(a.handshakeHash, b.handshakeHash);
 * ```
 */
export class SymmetricState {
  readonly #hash: SyncHash;
  readonly #cipher: CipherName;
  readonly #reversedSplit: boolean;
  #ck: Uint8Array;
  #h: Uint8Array;
  #cs: CipherState;

  private constructor(
    protocol: NoiseProtocol,
    hash: SyncHash,
    h: Uint8Array,
    cs: CipherState,
  ) {
    this.#hash = hash;
    this.#cipher = protocol.cipher;
    this.#reversedSplit = protocol.reversedSplit;
    this.#h = h;
    this.#ck = h.slice();
    this.#cs = cs;
  }

  /**
   * `InitializeSymmetric(protocol_name)` (§5.2): `h` is the name's bytes zero-padded to
   * HASHLEN, or their hash when longer; `ck = h`; no key. Accepts a name or a parsed
   * protocol.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_XX_25519_AESGCM_SHA256");
   * assert(new TextDecoder().decode(ss.handshakeHash.subarray(0, 28)) === "Noise_XX_25519_AESGCM_SHA256");
   * ```
   */
  static async initialize(protocol: string | NoiseProtocol): Promise<SymmetricState> {
    const resolved = typeof protocol === "string" ? parseProtocolName(protocol) : protocol;
    const name = new TextEncoder().encode(resolved.name);
    const hash = await loadSyncHash(resolved.hash);
    let h: Uint8Array;
    if (name.length <= hash.length) {
      h = new Uint8Array(hash.length);
      h.set(name);
    } else {
      h = hash.digest(name);
    }
    return new SymmetricState(resolved, hash, h, await CipherState.create(resolved.cipher));
  }

  /** A copy of the handshake hash `h` (`GetHandshakeHash`, §5.2). */
  get handshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /** Whether the inner cipher state has a key. */
  get hasKey(): boolean {
    return this.#cs.hasKey;
  }

  /** Noise HKDF (§4.3) from `ck` with `ikm`: `count` outputs of HASHLEN bytes. */
  #hkdf(ikm: Uint8Array, count: 2 | 3): Uint8Array[] {
    const length = this.#hash.length;
    const okm = this.#hash.hkdf(this.#ck, ikm, count * length);
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) out.push(okm.subarray(i * length, (i + 1) * length));
    return out;
  }

  /**
   * `MixKey(input_key_material)` (§5.2): new `ck` and a new key (truncated to 32 bytes).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NN_448_ChaChaPoly_BLAKE2b");
   * await ss.mixKey(new Uint8Array(56));
   * assert(ss.hasKey);
   * ```
   */
  async mixKey(inputKeyMaterial: Uint8Array): Promise<void> {
    await this.mixKeyEager(inputKeyMaterial);
  }

  /**
   * {@linkcode SymmetricState.mixKey}, done now where the new key needs no promise (a native
   * AEAD), else returning one; may throw instead of rejecting.
   */
  mixKeyEager(inputKeyMaterial: Uint8Array): void | Promise<void> {
    const [ck, tempK] = this.#hkdf(inputKeyMaterial, 2) as [Uint8Array, Uint8Array];
    this.#ck = ck.slice();
    return this.#rekey(tempK);
  }

  // The cipher state for the first 32 bytes of `tempK`, which is zeroed once it is made.
  #rekey(tempK: Uint8Array): void | Promise<void> {
    let made: CipherState | Promise<CipherState>;
    try {
      made = CipherState.createEager(this.#cipher, tempK.subarray(0, 32));
    } catch (error) {
      tempK.fill(0);
      throw error;
    }
    if (made instanceof Promise) {
      return made.then((cs) => {
        this.#cs = cs;
      }).finally(() => tempK.fill(0));
    }
    tempK.fill(0);
    this.#cs = made;
  }

  /**
   * `MixHash(data)` (§5.2): `h = HASH(h || data)`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
   * const before = ss.handshakeHash;
   * ss.mixHash(new Uint8Array([1]));
   * assert.notDeepEqual(ss.handshakeHash, before);
   * ```
   */
  mixHash(data: Uint8Array): void {
    this.#h = this.#hash.digest(this.#h, data);
  }

  /**
   * `MixKeyAndHash(input_key_material)` (§5.2), used for `psk` tokens (§9.2).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NNpsk0_25519_AESGCM_SHA256");
   * await ss.mixKeyAndHash(new Uint8Array(32));
   * assert(ss.hasKey);
   * ```
   */
  async mixKeyAndHash(inputKeyMaterial: Uint8Array): Promise<void> {
    await this.mixKeyAndHashEager(inputKeyMaterial);
  }

  /** {@linkcode SymmetricState.mixKeyAndHash}, now where it can be (see `mixKeyEager`). */
  mixKeyAndHashEager(inputKeyMaterial: Uint8Array): void | Promise<void> {
    const [ck, tempH, tempK] = this.#hkdf(inputKeyMaterial, 3) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    this.#ck = ck.slice();
    this.mixHash(tempH);
    return this.#rekey(tempK);
  }

  /**
   * `EncryptAndHash(plaintext)` (§5.2): encrypt with `h` as associated data, then mix the
   * ciphertext into `h`. Without a key, the plaintext is mixed and returned.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
   * assert.deepEqual(await ss.encryptAndHash(new Uint8Array([1])), new Uint8Array([1]));
   * ```
   */
  async encryptAndHash(plaintext: Uint8Array): Promise<Uint8Array> {
    return await this.encryptAndHashEager(plaintext);
  }

  /**
   * {@linkcode SymmetricState.encryptAndHash}, the ciphertext now where the key seals
   * synchronously, else a promise; may throw instead of rejecting.
   */
  encryptAndHashEager(plaintext: Uint8Array): Uint8Array | Promise<Uint8Array> {
    return after(this.#cs.encryptWithAdEager(this.#h, plaintext), (ciphertext) => {
      this.mixHash(ciphertext);
      return ciphertext;
    });
  }

  /**
   * `DecryptAndHash(ciphertext)` (§5.2): decrypt with `h` as associated data, then mix the
   * ciphertext into `h`. Authentication failure is a `ChannelError` `"decrypt-failed"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
   * await ss.mixKey(new Uint8Array(32));
   * await assert.rejects(ss.decryptAndHash(new Uint8Array(16)), { code: "decrypt-failed" });
   * ```
   */
  async decryptAndHash(ciphertext: Uint8Array): Promise<Uint8Array> {
    return await this.decryptAndHashEager(ciphertext);
  }

  /**
   * {@linkcode SymmetricState.decryptAndHash}, the plaintext now where the key opens
   * synchronously, else a promise; may throw (`"decrypt-failed"`) instead of rejecting.
   */
  decryptAndHashEager(ciphertext: Uint8Array): Uint8Array | Promise<Uint8Array> {
    return after(this.#cs.decryptWithAdEager(this.#h, ciphertext), (plaintext) => {
      this.mixHash(ciphertext);
      return plaintext;
    });
  }

  /**
   * `Split()` (§5.2): two cipher states from `HKDF(ck, empty)`, returned as
   * `[initiator→responder, responder→initiator]`. Under Ockam's profile the first is keyed
   * with the second HKDF output and the second with the first (OCKAM_WIRE §3.1).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SymmetricState } from "./symmetric_state.ts";
   * const ss = await SymmetricState.initialize("Noise_NN_25519_AESGCM_SHA256");
   * const [c1, c2] = await ss.split();
   * assert(c1.hasKey && c2.hasKey);
   * ```
   */
  async split(): Promise<[CipherState, CipherState]> {
    const { ciphers, keys } = await this.splitWithKeys();
    for (const k of keys) k.fill(0);
    return ciphers;
  }

  /**
   * {@linkcode SymmetricState.split}, also giving both keys as 32 raw bytes each (same
   * order), for a resumable channel that persists its first receive key in the key store.
   * The bytes are secret: zero them when done.
   */
  async splitWithKeys(): Promise<
    { ciphers: [CipherState, CipherState]; keys: [Uint8Array, Uint8Array] }
  > {
    const [k1, k2] = this.#hkdf(EMPTY, 2) as [Uint8Array, Uint8Array];
    const [first, second] = await Promise.all([
      CipherState.create(this.#cipher, k1.subarray(0, 32)),
      CipherState.create(this.#cipher, k2.subarray(0, 32)),
    ]);
    const b1 = k1.slice(0, 32);
    const b2 = k2.slice(0, 32);
    k1.fill(0);
    k2.fill(0);
    return this.#reversedSplit
      ? { ciphers: [second, first], keys: [b2, b1] }
      : { ciphers: [first, second], keys: [b1, b2] };
  }

  /** A description without key material. */
  toString(): string {
    return `SymmetricState(${this.#hash.name}, ${this.#cipher})`;
  }
}
