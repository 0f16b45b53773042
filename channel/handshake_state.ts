/**
 * Noise `HandshakeState` (§5.3), driven by the pattern table: one code path for every
 * pattern, `psk` modifier (§9) and suite.
 *
 * @module
 */
import { concat } from "../_bytes.ts";
import { HandshakeError, SealrouteError } from "../errors.ts";
import {
  generateKeyAgreementKey,
  importKeyAgreementKey,
  type KeyAgreementKey,
} from "../vault/mod.ts";
import type { CipherState } from "./cipher_state.ts";
import type { MessageToken, PreMessageToken } from "./patterns.ts";
import {
  dhAlgorithm,
  dhLength,
  type NoiseProtocol,
  parseProtocolName,
  privateKeyLength,
} from "./suite.ts";
import { SymmetricState } from "./symmetric_state.ts";

/** Noise messages are at most 65535 bytes (§3). */
export const MAX_MESSAGE_LENGTH = 65535;
const TAG_LENGTH = 16;
const PSK_LENGTH = 32;

type DhToken = "ee" | "es" | "se" | "ss";
const DH_TOKENS: readonly MessageToken[] = ["ee", "es", "se", "ss"];

/** Options of {@linkcode HandshakeState.create}. */
export interface HandshakeOptions {
  /** A protocol name such as `"Noise_XX_25519_AESGCM_SHA256"`, or `"OCKAM_XX_25519_AES256_GCM_SHA256"`. */
  protocolName: string;
  /** Whether this side sends the first message. */
  initiator: boolean;
  /** Data both sides must agree on, mixed into `h` (§6). Empty by default. */
  prologue?: Uint8Array;
  /**
   * This side's static key: a vault key, or private key bytes (32 for 25519, 56 for 448),
   * imported non-extractable. Required when the pattern uses it.
   */
  staticKey?: Uint8Array | KeyAgreementKey;
  /**
   * A fixed ephemeral key (for test vectors): a vault key or private key bytes. By default
   * a fresh non-extractable key is generated when the pattern sends `e`.
   */
  ephemeralKey?: Uint8Array | KeyAgreementKey;
  /** The peer's static public key, when the pattern has it as a pre-message. */
  remoteStaticKey?: Uint8Array;
  /** The peer's ephemeral public key, when the pattern has it as a pre-message. */
  remoteEphemeralKey?: Uint8Array;
  /** 32-byte pre-shared keys, one per `psk` modifier, in the order of the modifiers. */
  psks?: readonly Uint8Array[];
}

type Phase = "ready" | "busy" | "complete" | "split" | "failed";

/**
 * A Noise handshake state (§5.3). Create one per side with
 * {@linkcode HandshakeState.create}, then alternate `writeMessage` / `readMessage` as the
 * pattern says; when `isComplete`, `split()` gives the transport cipher states.
 *
 * The state enforces whose turn it is. Any failure — a message out of turn, truncated,
 * too long, or failing authentication — throws a `HandshakeError` and leaves the state
 * unusable: every later call throws `HandshakeError` `"failed"`.
 *
 * @example Noise XX, both sides in one place
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandshakeState } from "./handshake_state.ts";
 * import { generateKeyAgreementKey } from "../vault/mod.ts";
 *
 * const protocolName = "Noise_XX_25519_AESGCM_SHA256";
 * const alice = await HandshakeState.create({
 *   protocolName,
 *   initiator: true,
 *   staticKey: await generateKeyAgreementKey("X25519"),
 * });
 * const bob = await HandshakeState.create({
 *   protocolName,
 *   initiator: false,
 *   staticKey: await generateKeyAgreementKey("X25519"),
 * });
 * await bob.readMessage(await alice.writeMessage(new Uint8Array()));
 * await alice.readMessage(await bob.writeMessage(new Uint8Array()));
 * await bob.readMessage(await alice.writeMessage(new Uint8Array()));
 * assert(alice.isComplete && bob.isComplete);
 * assert.deepEqual(alice.handshakeHash, bob.handshakeHash);
 *
 * const [aliceOut] = await alice.split();
 * const [bobIn] = await bob.split();
 * const ad = new Uint8Array();
 * const ct = await aliceOut.encryptWithAd(ad, new TextEncoder().encode("hello"));
 * assert(new TextDecoder().decode(await bobIn.decryptWithAd(ad, ct)) === "hello");
 * ```
 */
export class HandshakeState {
  readonly #protocol: NoiseProtocol;
  readonly #initiator: boolean;
  readonly #ss: SymmetricState;
  readonly #dhLen: number;
  readonly #psk: boolean;
  #s: KeyAgreementKey | undefined;
  #e: KeyAgreementKey | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  #psks: Uint8Array[];
  // Agreements started as soon as both their keys were known, so they run while the
  // handshake does other work; each is consumed by its token (§7.3: a DH token occurs
  // at most once per pattern). Dropped on failure and split.
  #agreements = new Map<DhToken, Promise<Uint8Array>>();
  #agreed = new Set<DhToken>();
  #message = 0;
  #phase: Phase = "ready";

  private constructor(
    protocol: NoiseProtocol,
    initiator: boolean,
    ss: SymmetricState,
    keys: {
      s: KeyAgreementKey | undefined;
      e: KeyAgreementKey | undefined;
      rs: Uint8Array | undefined;
      re: Uint8Array | undefined;
      psks: Uint8Array[];
    },
  ) {
    this.#protocol = protocol;
    this.#initiator = initiator;
    this.#ss = ss;
    this.#dhLen = dhLength(protocol.dh);
    this.#psk = protocol.pattern.pskCount > 0;
    this.#s = keys.s;
    this.#e = keys.e;
    this.#rs = keys.rs;
    this.#re = keys.re;
    this.#psks = keys.psks;
  }

  /**
   * `Initialize(...)` (§5.3): resolves the protocol, checks the keys the pattern needs,
   * and mixes the prologue and pre-message public keys into `h`. Problems are
   * `HandshakeError`s: `"unknown-protocol"`, `"unknown-pattern"`, `"unknown-function"`,
   * `"bad-key-length"`, `"bad-key"`, `"missing-key"`, `"unexpected-key"`, `"bad-psk-count"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HandshakeState } from "./handshake_state.ts";
   * await assert.rejects(
   *   HandshakeState.create({ protocolName: "Noise_IK_25519_AESGCM_SHA256", initiator: true }),
   *   { name: "HandshakeError", code: "missing-key" },
   * );
   * ```
   */
  static async create(options: HandshakeOptions): Promise<HandshakeState> {
    const protocol = parseProtocolName(options.protocolName);
    const { pattern } = protocol;
    const initiator = options.initiator;
    if (typeof initiator !== "boolean") {
      throw new TypeError("options.initiator must be a boolean");
    }
    // Hashing the protocol name needs none of the keys, so it runs while they are imported;
    // a refusal of the options below is reported first, as before.
    const initializing = SymmetricState.initialize(protocol);
    initializing.catch(() => {});
    const writer = (index: number): boolean => pattern.oneWay || index % 2 === 0;
    const preHas = (token: PreMessageToken, mine: boolean): boolean =>
      (mine === initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage)
        .includes(token);
    const sendsStatic = pattern.messages.some((m, i) => writer(i) === initiator && m.includes("s"));

    // Our keys.
    let s: KeyAgreementKey | undefined;
    if (sendsStatic || preHas("s", true)) {
      if (options.staticKey === undefined) {
        throw new HandshakeError("missing-key", `${pattern.name} needs this side's staticKey`);
      }
      s = await toKey(protocol, options.staticKey, "staticKey");
    }
    let e: KeyAgreementKey | undefined;
    if (options.ephemeralKey !== undefined) {
      e = await toKey(protocol, options.ephemeralKey, "ephemeralKey");
    } else if (preHas("e", true)) {
      throw new HandshakeError("missing-key", `${pattern.name} needs this side's ephemeralKey`);
    }
    // The peer's keys: exactly those its pre-messages carry.
    const rs = remoteKey(protocol, options.remoteStaticKey, "remoteStaticKey", preHas("s", false));
    const re = remoteKey(
      protocol,
      options.remoteEphemeralKey,
      "remoteEphemeralKey",
      preHas("e", false),
    );
    const psks = options.psks ?? [];
    if (!Array.isArray(psks) || psks.length !== pattern.pskCount) {
      throw new HandshakeError(
        "bad-psk-count",
        `${pattern.name} needs ${pattern.pskCount} psks, got ${
          Array.isArray(psks) ? psks.length : typeof psks
        }`,
      );
    }
    for (const psk of psks) {
      if (!(psk instanceof Uint8Array) || psk.length !== PSK_LENGTH) {
        throw new HandshakeError(
          "bad-key-length",
          `psk must be ${PSK_LENGTH} bytes, got ${
            psk instanceof Uint8Array ? psk.length : typeof psk
          }`,
        );
      }
    }

    const ss = await initializing;
    ss.mixHash(options.prologue ?? new Uint8Array(0));
    const state = new HandshakeState(protocol, initiator, ss, {
      s,
      e,
      rs,
      re,
      psks: psks.map((p) => p.slice()),
    });
    // §5.3: pre-message public keys, initiator's first, then responder's.
    await state.#mixPreMessage(pattern.initiatorPreMessage, initiator);
    await state.#mixPreMessage(pattern.responderPreMessage, !initiator);
    state.#startAgreements();
    return state;
  }

  async #mixPreMessage(tokens: readonly PreMessageToken[], mine: boolean): Promise<void> {
    for (const token of tokens) {
      const key = token === "s"
        ? (mine ? this.#s?.publicKey : this.#rs)
        : (mine ? this.#e?.publicKey : this.#re);
      this.#ss.mixHash(key!);
      // §9.2: with psks, every "e" mixes the public key into the key too.
      if (token === "e" && this.#psk) await this.#ss.mixKey(key!);
    }
  }

  /** The protocol name this handshake runs. */
  get protocolName(): string {
    return this.#protocol.name;
  }

  /** Whether this side is the initiator. */
  get isInitiator(): boolean {
    return this.#initiator;
  }

  /** Whether the next call should be `writeMessage` (false while waiting, done or failed). */
  get isMyTurn(): boolean {
    return this.#phase === "ready" && this.#writerOf(this.#message) === this.#initiator;
  }

  /** Whether every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.#phase === "complete" || this.#phase === "split";
  }

  /** Whether an earlier error made this state unusable. */
  get isFailed(): boolean {
    return this.#phase === "failed";
  }

  /** A copy of the handshake hash `h` (§5.2), for channel binding once complete. */
  get handshakeHash(): Uint8Array {
    return this.#ss.handshakeHash;
  }

  /** The peer's static public key, once known (pre-message or received). */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs?.slice();
  }

  /** The peer's ephemeral public key, once known. */
  get remoteEphemeralKey(): Uint8Array | undefined {
    return this.#re?.slice();
  }

  // True if the initiator sends message `index`.
  #writerOf(index: number): boolean {
    return this.#protocol.pattern.oneWay || index % 2 === 0;
  }

  #enter(writing: boolean): readonly MessageToken[] {
    if (this.#phase === "failed") {
      throw new HandshakeError("failed", "handshake state is unusable after an earlier failure");
    }
    if (this.#phase !== "ready") {
      const why = this.#phase === "busy"
        ? "another handshake call is in progress"
        : "handshake is complete";
      this.#phase = "failed";
      throw new HandshakeError("out-of-turn", why);
    }
    if ((this.#writerOf(this.#message) === this.#initiator) !== writing) {
      this.#phase = "failed";
      throw new HandshakeError(
        "out-of-turn",
        `expected ${writing ? "readMessage" : "writeMessage"} for message ${this.#message + 1}`,
      );
    }
    this.#phase = "busy";
    return this.#protocol.pattern.messages[this.#message]!;
  }

  #leave(): void {
    // A call that overlapped this one has already failed the state.
    if (this.#phase !== "busy") {
      throw new HandshakeError("failed", "handshake state failed during this call");
    }
    this.#message++;
    this.#phase = this.#message === this.#protocol.pattern.messages.length ? "complete" : "ready";
  }

  #fail(error: unknown): HandshakeError {
    this.#phase = "failed";
    this.#e = undefined;
    this.#psks = [];
    this.#agreements.clear();
    if (error instanceof HandshakeError) return error;
    const code = error instanceof SealrouteError ? error.code : "internal";
    return new HandshakeError(
      code === "decrypt-failed"
        ? "decrypt-failed"
        : code === "bad-public-key"
        ? "bad-public-key"
        : "failed",
      `handshake message ${this.#message + 1} rejected (${code})`,
      { cause: error },
    );
  }

  /**
   * Writes the next handshake message carrying `payload` (`WriteMessage`, §5.3). The
   * payload is encrypted once a key is established. A message over 65535 bytes is a
   * `HandshakeError` `"message-too-large"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HandshakeState } from "./handshake_state.ts";
   * const hs = await HandshakeState.create({ protocolName: "Noise_NN_25519_AESGCM_SHA256", initiator: true });
   * const message = await hs.writeMessage(new Uint8Array([1, 2, 3]));
   * assert(message.length === 32 + 3); // e, then the payload in clear
   * await assert.rejects(hs.writeMessage(new Uint8Array()), { code: "out-of-turn" });
   * ```
   */
  async writeMessage(payload: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    const tokens = this.#enter(true);
    try {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        switch (token) {
          case "e": {
            this.#e ??= await generateKeyAgreementKey(dhAlgorithm(this.#protocol.dh));
            this.#startAgreements();
            const pub = this.#e.publicKey;
            parts.push(pub);
            this.#ss.mixHash(pub);
            if (this.#psk) await this.#ss.mixKey(pub);
            break;
          }
          case "s":
            parts.push(await this.#ss.encryptAndHash(this.#s!.publicKey));
            break;
          case "psk":
            await this.#ss.mixKeyAndHash(this.#psks.shift()!);
            break;
          default:
            await this.#ss.mixKey(await this.#dh(token));
        }
      }
      parts.push(await this.#ss.encryptAndHash(payload));
      const message = concat(...parts);
      if (message.length > MAX_MESSAGE_LENGTH) {
        throw new HandshakeError(
          "message-too-large",
          `handshake message would be ${message.length} bytes, limit ${MAX_MESSAGE_LENGTH}`,
        );
      }
      this.#leave();
      return message;
    } catch (error) {
      throw this.#fail(error);
    }
  }

  /**
   * Reads the peer's next handshake message and returns its payload (`ReadMessage`,
   * §5.3). A message that is out of turn, too short, too long or fails authentication is
   * a `HandshakeError` and the state becomes unusable.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HandshakeState } from "./handshake_state.ts";
   * const protocolName = "Noise_NN_25519_ChaChaPoly_BLAKE2s";
   * const a = await HandshakeState.create({ protocolName, initiator: true });
   * const b = await HandshakeState.create({ protocolName, initiator: false });
   * await b.readMessage(await a.writeMessage());
   * const reply = await b.writeMessage(new TextEncoder().encode("ok"));
   * reply[reply.length - 1]! ^= 1;
   * await assert.rejects(a.readMessage(reply), { name: "HandshakeError" });
   * await assert.rejects(a.readMessage(reply), { code: "failed" });
   * ```
   */
  async readMessage(message: Uint8Array): Promise<Uint8Array> {
    const tokens = this.#enter(false);
    try {
      if (!(message instanceof Uint8Array)) throw new TypeError("message must be a Uint8Array");
      if (message.length > MAX_MESSAGE_LENGTH) {
        throw new HandshakeError(
          "message-too-large",
          `handshake message is ${message.length} bytes, limit ${MAX_MESSAGE_LENGTH}`,
        );
      }
      let offset = 0;
      const take = (length: number): Uint8Array => {
        if (offset + length > message.length) {
          throw new HandshakeError(
            "truncated",
            `handshake message ${this.#message + 1} is ${message.length} bytes, too short`,
          );
        }
        const part = message.subarray(offset, offset + length);
        offset += length;
        return part;
      };
      for (const token of tokens) {
        switch (token) {
          case "e": {
            const re = take(this.#dhLen).slice();
            this.#re = re;
            this.#startAgreements();
            this.#ss.mixHash(re);
            if (this.#psk) await this.#ss.mixKey(re);
            break;
          }
          case "s": {
            const length = this.#dhLen + (this.#ss.hasKey ? TAG_LENGTH : 0);
            this.#rs = (await this.#ss.decryptAndHash(take(length))).slice();
            this.#startAgreements();
            break;
          }
          case "psk":
            await this.#ss.mixKeyAndHash(this.#psks.shift()!);
            break;
          default:
            await this.#ss.mixKey(await this.#dh(token));
        }
      }
      const rest = message.subarray(offset);
      if (this.#ss.hasKey && rest.length < TAG_LENGTH) take(TAG_LENGTH);
      const payload = await this.#ss.decryptAndHash(rest);
      this.#leave();
      return payload.slice();
    } catch (error) {
      throw this.#fail(error);
    }
  }

  // §7.1: "es" is DH(initiator's e, responder's s), "se" DH(initiator's s, responder's e).
  #keysOf(token: DhToken): [KeyAgreementKey | undefined, Uint8Array | undefined] {
    const localEphemeral = token === "ee" ||
      (token === "es" && this.#initiator) || (token === "se" && !this.#initiator);
    const remoteEphemeral = token === "ee" ||
      (token === "es" && !this.#initiator) || (token === "se" && this.#initiator);
    return [localEphemeral ? this.#e : this.#s, remoteEphemeral ? this.#re : this.#rs];
  }

  // Starts every agreement the pattern still needs whose two keys are now known.
  #startAgreements(): void {
    for (const message of this.#protocol.pattern.messages) {
      for (const token of message) {
        if (!DH_TOKENS.includes(token)) continue;
        const dh = token as DhToken;
        if (this.#agreed.has(dh) || this.#agreements.has(dh)) continue;
        const [local, remote] = this.#keysOf(dh);
        if (!local || !remote) continue;
        let agreement: Promise<Uint8Array>;
        try {
          agreement = Promise.resolve(local.deriveSharedSecret(remote));
        } catch (error) {
          agreement = Promise.reject(error);
        }
        // A failure is reported when its token is reached, as if computed there.
        agreement.catch(() => {});
        this.#agreements.set(dh, agreement);
      }
    }
  }

  #dh(token: DhToken): Promise<Uint8Array> {
    this.#agreed.add(token);
    const started = this.#agreements.get(token);
    if (started) {
      this.#agreements.delete(token);
      return started;
    }
    const [local, remote] = this.#keysOf(token);
    if (!local || !remote) {
      throw new HandshakeError("missing-key", `no key for ${token}`);
    }
    return local.deriveSharedSecret(remote);
  }

  /**
   * `Split()` once the handshake is complete: `[c1, c2]` where `c1` encrypts
   * initiator→responder traffic and `c2` responder→initiator (for one-way patterns only
   * `c1` is used). Under Ockam's profile `c1` is keyed with the second HKDF output. Call
   * once; before completion or again it is a `HandshakeError` `"out-of-turn"`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { HandshakeState } from "./handshake_state.ts";
   * const protocolName = "Noise_NN_25519_AESGCM_SHA256";
   * const a = await HandshakeState.create({ protocolName, initiator: true });
   * const b = await HandshakeState.create({ protocolName, initiator: false });
   * await b.readMessage(await a.writeMessage());
   * await a.readMessage(await b.writeMessage());
   * const [, aIn] = await a.split();
   * const [, bOut] = await b.split();
   * const ct = await bOut.encryptWithAd(new Uint8Array(), new Uint8Array([42]));
   * assert.deepEqual(await aIn.decryptWithAd(new Uint8Array(), ct), new Uint8Array([42]));
   * ```
   */
  async split(): Promise<[CipherState, CipherState]> {
    const { ciphers, keys } = await this.splitWithKeys();
    for (const k of keys) k.fill(0);
    return ciphers;
  }

  /**
   * {@linkcode HandshakeState.split}, also giving both keys as raw bytes (see
   * `SymmetricState.splitWithKeys`); the bytes are secret: zero them when done.
   */
  async splitWithKeys(): Promise<
    { ciphers: [CipherState, CipherState]; keys: [Uint8Array, Uint8Array] }
  > {
    if (this.#phase === "failed") {
      throw new HandshakeError("failed", "handshake state is unusable after an earlier failure");
    }
    if (this.#phase !== "complete") {
      throw new HandshakeError(
        "out-of-turn",
        this.#phase === "split" ? "split() was already called" : "handshake is not complete",
      );
    }
    this.#phase = "split";
    this.#e = undefined;
    this.#psks = [];
    this.#agreements.clear();
    return await this.#ss.splitWithKeys();
  }

  /** A description without key material. */
  toString(): string {
    return `HandshakeState(${this.#protocol.name}, ${
      this.#initiator ? "initiator" : "responder"
    }, ${this.#phase}, message ${this.#message + 1})`;
  }
}

async function toKey(
  protocol: NoiseProtocol,
  key: Uint8Array | KeyAgreementKey,
  name: string,
): Promise<KeyAgreementKey> {
  const algorithm = dhAlgorithm(protocol.dh);
  if (key instanceof Uint8Array) {
    const length = privateKeyLength(protocol.dh);
    if (key.length !== length) {
      throw new HandshakeError(
        "bad-key-length",
        `${name} for ${protocol.dh} must be ${length} bytes, got ${key.length}`,
      );
    }
    return await importKeyAgreementKey(algorithm, key);
  }
  if (
    typeof key !== "object" || key === null || typeof key.deriveSharedSecret !== "function" ||
    !(key.publicKey instanceof Uint8Array)
  ) {
    throw new HandshakeError("bad-key", `${name} must be private key bytes or a KeyAgreementKey`);
  }
  if (key.algorithm !== algorithm) {
    throw new HandshakeError("bad-key", `${name} is ${key.algorithm}, expected ${algorithm}`);
  }
  return key;
}

function remoteKey(
  protocol: NoiseProtocol,
  key: Uint8Array | undefined,
  name: string,
  needed: boolean,
): Uint8Array | undefined {
  if (key === undefined) {
    if (needed) {
      throw new HandshakeError("missing-key", `${protocol.pattern.name} needs ${name}`);
    }
    return undefined;
  }
  if (!needed) {
    // A key the pattern would learn in a message: silently ignoring it would skip a
    // check the caller probably expects.
    throw new HandshakeError(
      "unexpected-key",
      `${protocol.pattern.name} has no pre-message for ${name}`,
    );
  }
  if (!(key instanceof Uint8Array) || key.length !== dhLength(protocol.dh)) {
    throw new HandshakeError(
      "bad-key-length",
      `${name} for ${protocol.dh} must be ${dhLength(protocol.dh)} bytes, got ${
        key instanceof Uint8Array ? key.length : typeof key
      }`,
    );
  }
  return key.slice();
}
