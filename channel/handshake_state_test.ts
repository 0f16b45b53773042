import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { HandshakeError } from "../errors.ts";
import { curvesBackend, generateKeyAgreementKey, importKeyAgreementKey } from "../vault/mod.ts";
import { type HandshakeOptions, HandshakeState, MAX_MESSAGE_LENGTH } from "./handshake_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "./suite.ts";

const XX = "Noise_XX_25519_AESGCM_SHA256";
const EMPTY = new Uint8Array(0);

async function xxPair(protocolName = XX): Promise<[HandshakeState, HandshakeState]> {
  return [
    await HandshakeState.create({
      protocolName,
      initiator: true,
      staticKey: await generateKeyAgreementKey("X25519"),
    }),
    await HandshakeState.create({
      protocolName,
      initiator: false,
      staticKey: await generateKeyAgreementKey("X25519"),
    }),
  ];
}

async function complete(a: HandshakeState, b: HandshakeState): Promise<void> {
  while (!a.isComplete) {
    const [from, to] = a.isMyTurn ? [a, b] : [b, a];
    await to.readMessage(await from.writeMessage(EMPTY));
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  });
}

Deno.test("XX completes: both sides agree on h and learn each other's static key", async () => {
  const si = await generateKeyAgreementKey("X25519");
  const sr = await generateKeyAgreementKey("X25519");
  const i = await HandshakeState.create({ protocolName: XX, initiator: true, staticKey: si });
  const r = await HandshakeState.create({ protocolName: XX, initiator: false, staticKey: sr });
  assert(i.isMyTurn && !r.isMyTurn);
  const hello = new TextEncoder().encode("hello");
  assert.deepEqual(await r.readMessage(await i.writeMessage(hello)), hello);
  assert(!i.isMyTurn && r.isMyTurn);
  await i.readMessage(await r.writeMessage(EMPTY));
  await r.readMessage(await i.writeMessage(EMPTY));
  assert(i.isComplete && r.isComplete && !i.isMyTurn && !r.isMyTurn);
  assert.deepEqual(i.handshakeHash, r.handshakeHash);
  assert.deepEqual(i.remoteStaticKey, sr.publicKey);
  assert.deepEqual(r.remoteStaticKey, si.publicKey);
  const [i1, i2] = await i.split();
  const [r1, r2] = await r.split();
  const m = new Uint8Array([1, 2, 3]);
  assert.deepEqual(await r1.decryptWithAd(EMPTY, await i1.encryptWithAd(EMPTY, m)), m);
  assert.deepEqual(await i2.decryptWithAd(EMPTY, await r2.encryptWithAd(EMPTY, m)), m);
});

Deno.test("writing or reading out of turn is a HandshakeError and fails the state", async () => {
  const [i, r] = await xxPair();
  await rejectsWith(r.writeMessage(EMPTY), "out-of-turn");
  await rejectsWith(r.readMessage(new Uint8Array(32)), "failed");
  assert(r.isFailed);

  const [i2] = await xxPair();
  await rejectsWith(i2.readMessage(new Uint8Array(32)), "out-of-turn");
  await rejectsWith(i2.writeMessage(EMPTY), "failed");

  // After completion every further message is out of turn.
  const [a, b] = await xxPair();
  await complete(a, b);
  await rejectsWith(a.writeMessage(EMPTY), "out-of-turn");
  await rejectsWith(b.readMessage(new Uint8Array(64)), "out-of-turn");
  void i;
});

Deno.test("overlapping calls on one state fail it", async () => {
  const [i, r] = await xxPair();
  await r.readMessage(await i.writeMessage(EMPTY));
  // Message 2 awaits its agreements on WebCrypto keys; on synchronous (native) keys a call
  // completes before it returns, so calls cannot overlap.
  const first = r.writeMessage(EMPTY);
  if (curvesBackend() !== "webcrypto") {
    await first;
    await rejectsWith(r.writeMessage(EMPTY), "out-of-turn");
    return;
  }
  await rejectsWith(r.writeMessage(EMPTY), "out-of-turn");
  await rejectsWith(first, "failed");
  await rejectsWith(r.writeMessage(EMPTY), "failed");
});

Deno.test("a truncated message is rejected with 'truncated'", async () => {
  const [i, r] = await xxPair();
  const m1 = await i.writeMessage(EMPTY);
  await rejectsWith(r.readMessage(m1.subarray(0, 31)), "truncated");
  await rejectsWith(r.readMessage(m1), "failed");

  // Message 2 cut inside the tag of its payload.
  const [a, b] = await xxPair();
  await b.readMessage(await a.writeMessage(EMPTY));
  const m2 = await b.writeMessage(EMPTY);
  await rejectsWith(a.readMessage(m2.subarray(0, m2.length - 1)), "truncated");
  const [c, d] = await xxPair();
  await d.readMessage(await c.writeMessage(EMPTY));
  const m2b = await d.writeMessage(EMPTY);
  await rejectsWith(c.readMessage(m2b.subarray(0, 32 + 48 + 8)), "truncated");
  // Cut inside a longer payload: the tag no longer matches.
  const [e, f] = await xxPair();
  await f.readMessage(await e.writeMessage(EMPTY));
  const m2c = await f.writeMessage(new Uint8Array(20));
  await rejectsWith(e.readMessage(m2c.subarray(0, m2c.length - 1)), "decrypt-failed");
});

Deno.test("a tampered message fails the reader, and the reader stays failed", async () => {
  const [i, r] = await xxPair();
  await r.readMessage(await i.writeMessage(EMPTY));
  const m2 = await r.writeMessage(new Uint8Array(10));
  m2[40]! ^= 0x80;
  await rejectsWith(i.readMessage(m2), "decrypt-failed");
  assert(i.isFailed && !i.isMyTurn);
  await rejectsWith(i.writeMessage(EMPTY), "failed");
  await rejectsWith(i.split(), "failed");
});

Deno.test("XX message 1 has no encrypted part: tampering is caught by the other side later", async () => {
  const [i, r] = await xxPair();
  const m1 = await i.writeMessage(new Uint8Array([1, 2, 3]));
  m1[m1.length - 1]! ^= 1;
  await r.readMessage(m1); // accepted: nothing authenticates it yet
  await rejectsWith(i.readMessage(await r.writeMessage(EMPTY)), "decrypt-failed");
});

Deno.test("messages over 65535 bytes are refused on both sides", async () => {
  const [i, r] = await xxPair();
  await rejectsWith(i.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 31)), "message-too-large");
  assert(i.isFailed);
  await rejectsWith(r.readMessage(new Uint8Array(MAX_MESSAGE_LENGTH + 1)), "message-too-large");
  const [a, b] = await xxPair();
  const max = await a.writeMessage(new Uint8Array(MAX_MESSAGE_LENGTH - 32));
  assert.equal(max.length, MAX_MESSAGE_LENGTH);
  assert.equal((await b.readMessage(max)).length, MAX_MESSAGE_LENGTH - 32);
});

Deno.test("split only once, and only when complete", async () => {
  const [i, r] = await xxPair();
  await rejectsWith(i.split(), "out-of-turn");
  await complete(i, r);
  await i.split();
  await rejectsWith(i.split(), "out-of-turn");
  assert.equal(i.handshakeHash.length, 32);
});

Deno.test("create rejects unknown names and functions", async () => {
  const create = (protocolName: string) => HandshakeState.create({ protocolName, initiator: true });
  await rejectsWith(create("Noise_XX_25519_AESGCM"), "unknown-protocol");
  await rejectsWith(create("Nois_XX_25519_AESGCM_SHA256"), "unknown-protocol");
  await rejectsWith(create("Noise_QQ_25519_AESGCM_SHA256"), "unknown-pattern");
  await rejectsWith(create("Noise_XXpsk9_25519_AESGCM_SHA256"), "unknown-pattern");
  await rejectsWith(create("Noise_XXfallback_25519_AESGCM_SHA256"), "unknown-pattern");
  await rejectsWith(create("Noise_NN_P256_AESGCM_SHA256"), "unknown-function");
  await rejectsWith(create("Noise_NN_25519_AES128_SHA256"), "unknown-function");
  await rejectsWith(create("Noise_NN_25519_AESGCM_SHA3"), "unknown-function");
});

Deno.test("create checks keys: missing, wrong length, wrong curve, unexpected, psks", async () => {
  const IK = "Noise_IK_25519_AESGCM_SHA256";
  const s = new Uint8Array(32).fill(1);
  const rs = (await importKeyAgreementKey("X25519", new Uint8Array(32).fill(2))).publicKey;
  await rejectsWith(
    HandshakeState.create({ protocolName: IK, initiator: true, staticKey: s }),
    "missing-key",
  );
  await rejectsWith(
    HandshakeState.create({ protocolName: IK, initiator: true, remoteStaticKey: rs }),
    "missing-key",
  );
  await rejectsWith(
    HandshakeState.create({ protocolName: IK, initiator: false }),
    "missing-key",
  );
  await rejectsWith(
    HandshakeState.create({
      protocolName: IK,
      initiator: true,
      staticKey: new Uint8Array(31),
      remoteStaticKey: rs,
    }),
    "bad-key-length",
  );
  await rejectsWith(
    HandshakeState.create({
      protocolName: IK,
      initiator: true,
      staticKey: s,
      remoteStaticKey: rs.subarray(1),
    }),
    "bad-key-length",
  );
  await rejectsWith(
    HandshakeState.create({
      protocolName: "Noise_IK_448_AESGCM_SHA256",
      initiator: true,
      staticKey: s,
      remoteStaticKey: new Uint8Array(56),
    }),
    "bad-key-length",
  );
  await rejectsWith(
    HandshakeState.create({
      protocolName: IK,
      initiator: true,
      staticKey: await generateKeyAgreementKey("X448"),
      remoteStaticKey: rs,
    }),
    "bad-key",
  );
  await rejectsWith(
    HandshakeState.create({ protocolName: XX, initiator: true, staticKey: s, remoteStaticKey: rs }),
    "unexpected-key",
  );
  await rejectsWith(
    HandshakeState.create({
      protocolName: XX,
      initiator: true,
      staticKey: s,
      ephemeralKey: new Uint8Array(3),
    }),
    "bad-key-length",
  );
  const psk = new Uint8Array(32);
  const NNpsk = (psks: Uint8Array[]): HandshakeOptions => ({
    protocolName: "Noise_NNpsk0+psk2_25519_AESGCM_SHA256",
    initiator: true,
    psks,
  });
  await rejectsWith(HandshakeState.create(NNpsk([psk])), "bad-psk-count");
  await rejectsWith(HandshakeState.create(NNpsk([psk, psk, psk])), "bad-psk-count");
  await rejectsWith(HandshakeState.create(NNpsk([psk, new Uint8Array(31)])), "bad-key-length");
  await rejectsWith(
    HandshakeState.create({ protocolName: XX, initiator: true, staticKey: s, psks: [psk] }),
    "bad-psk-count",
  );
  await HandshakeState.create(NNpsk([psk, psk]));
});

Deno.test("IK with a wrong remote static key fails at the responder", async () => {
  const protocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
  const responderKey = await generateKeyAgreementKey("X25519");
  const stranger = await generateKeyAgreementKey("X25519");
  const i = await HandshakeState.create({
    protocolName,
    initiator: true,
    staticKey: await generateKeyAgreementKey("X25519"),
    remoteStaticKey: stranger.publicKey,
  });
  const r = await HandshakeState.create({
    protocolName,
    initiator: false,
    staticKey: responderKey,
  });
  await rejectsWith(r.readMessage(await i.writeMessage(EMPTY)), "decrypt-failed");
});

Deno.test("a psk mismatch fails the handshake", async () => {
  const protocolName = "Noise_NNpsk0_448_AESGCM_SHA512";
  const i = await HandshakeState.create({
    protocolName,
    initiator: true,
    psks: [new Uint8Array(32).fill(1)],
  });
  const r = await HandshakeState.create({
    protocolName,
    initiator: false,
    psks: [new Uint8Array(32).fill(2)],
  });
  await rejectsWith(r.readMessage(await i.writeMessage(EMPTY)), "decrypt-failed");
});

Deno.test("errors name neither keys nor payloads", async () => {
  const [i, r] = await xxPair();
  await r.readMessage(await i.writeMessage(EMPTY));
  const m2 = await r.writeMessage(new TextEncoder().encode("secret-payload"));
  m2[m2.length - 1]! ^= 1;
  const error = await i.readMessage(m2).catch((e: unknown) => e);
  assert(error instanceof HandshakeError);
  assert(!error.message.includes("secret") && !/[0-9a-f]{32}/.test(error.message));
  assert(!String(i).includes("secret"));
});

Deno.test("OCKAM profile: initial h is SHA256(name) for the empty prologue", async () => {
  const hs = await HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: true,
    staticKey: new Uint8Array(32).fill(3),
  });
  assert.equal(
    toHex(hs.handshakeHash),
    "c6096331ab8d033b2ab45efed418e9511b63d51e0b5a9a584086ea8b5905e752",
  );
});

Deno.test("OCKAM profile: a full XX handshake completes and transports round-trip", async () => {
  const [i, r] = await xxPair(OCKAM_XX_PROTOCOL_NAME);
  await complete(i, r);
  assert.deepEqual(i.handshakeHash, r.handshakeHash);
  const [i1, i2] = await i.split();
  const [r1, r2] = await r.split();
  const m = new TextEncoder().encode("ockam");
  assert.deepEqual(await r1.decryptAt(5n, EMPTY, await i1.encryptAt(5n, EMPTY, m)), m);
  assert.deepEqual(await i2.decryptAt(6n, EMPTY, await r2.encryptAt(6n, EMPTY, m)), m);
  // The two directions use different keys.
  await assert.rejects(r2.decryptAt(5n, EMPTY, await i1.encryptAt(5n, EMPTY, m)));
});

Deno.test("OCKAM profile: same messages as Noise XX with the same keys, apart from the name", async () => {
  // With fixed keys, both runs make identical DH computations; only h/ck differ because the
  // names differ. Message 1 (e only, in clear) must match byte for byte.
  const keys = {
    staticKey: fromHex("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"),
    ephemeralKey: fromHex("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"),
  };
  const ockam = await HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: true,
    ...keys,
  });
  const noise = await HandshakeState.create({ protocolName: XX, initiator: true, ...keys });
  assert.deepEqual(await ockam.writeMessage(EMPTY), await noise.writeMessage(EMPTY));
  assert.notDeepEqual(ockam.handshakeHash, noise.handshakeHash);
});
