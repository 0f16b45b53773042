import assert from "node:assert/strict";
import { fromHex } from "../_bytes.ts";
import { MemoryKeyStore, Vault } from "../vault/mod.ts";
import { createIdentity, openIdentity } from "./local_identity.ts";
import {
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  encodePurposeKeyAttestation,
  verifyPurposeKeyAttestation,
  verifySecureChannelPeer,
} from "./purpose_key.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };

const T = 1_700_000_000;
const at = (t: number) => () => t;

Deno.test("secure-channel and credential keys are attested and verify", async () => {
  const me = await createIdentity(new Vault(), { clock: at(T) });
  const sc = await me.createSecureChannelKey({ clock: at(T), ttl: 3600 });
  const data = await verifyPurposeKeyAttestation(me.identity, sc.attestation, {
    clock: at(T + 10),
  });
  assert.equal(data.subject, me.identifier);
  assert.deepEqual(data.subjectLatestChangeHash, me.identity.latestChangeHash);
  assert.equal(data.expiresAt, T + 3600);
  for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
    const ck = await me.createCredentialKey({ clock: at(T), algorithm });
    const d = await verifyPurposeKeyAttestation(
      me.identity,
      encodePurposeKeyAttestation(ck.attestation),
      {
        clock: at(T),
      },
    );
    assert(d.publicKey.type === "credential-signing");
    assert.equal(d.publicKey.key.algorithm, algorithm);
  }
});

Deno.test("attestation time checks: expired, not yet valid (with skew), identity window", async () => {
  const me = await createIdentity(new Vault(), { clock: at(T), ttl: 10_000 });
  const sc = await me.createSecureChannelKey({ clock: at(T + 100), ttl: 1000 });
  await assert.rejects(
    verifyPurposeKeyAttestation(me.identity, sc.attestation, { clock: at(T + 1101) }),
    {
      name: "TrustError",
      code: "expired",
    },
  );
  await verifyPurposeKeyAttestation(me.identity, sc.attestation, { clock: at(T + 1100) });
  await verifyPurposeKeyAttestation(me.identity, sc.attestation, { clock: at(T + 40) });
  await assert.rejects(
    verifyPurposeKeyAttestation(me.identity, sc.attestation, { clock: at(T + 39) }),
    {
      code: "not-yet-valid",
    },
  );
  await verifyPurposeKeyAttestation(me.identity, sc.attestation, { clock: at(T), skew: 100 });
  // Attested by hand outside the primary key's window.
  const outside = await me.attest({ type: "secure-channel", publicKey: new Uint8Array(32) }, {
    createdAt: T,
    expiresAt: T + 10_001,
  });
  await assert.rejects(verifyPurposeKeyAttestation(me.identity, outside, { clock: at(T) }), {
    code: "outside-identity-window",
  });
  const before = await me.attest({ type: "secure-channel", publicKey: new Uint8Array(32) }, {
    createdAt: T - 1,
    expiresAt: T + 10,
  });
  await assert.rejects(verifyPurposeKeyAttestation(me.identity, before, { clock: at(T) }), {
    code: "outside-identity-window",
  });
});

Deno.test("purpose keys are capped at the identity's window", async () => {
  const me = await createIdentity(new Vault(), { clock: at(T), ttl: 100 });
  const sc = await me.createSecureChannelKey({ clock: at(T) });
  assert.equal(sc.data.expiresAt, T + 100);
});

Deno.test("attestation by someone else, tampered or stale is rejected", async () => {
  const me = await createIdentity(new Vault());
  const other = await createIdentity(new Vault());
  const sc = await me.createSecureChannelKey();
  await assert.rejects(verifyPurposeKeyAttestation(other.identity, sc.attestation), {
    code: "wrong-subject",
  });
  const data = sc.attestation.data.slice();
  data[data.length - 1] = data[data.length - 1]! ^ 1; // expires_at
  await assert.rejects(verifyPurposeKeyAttestation(me.identity, { ...sc.attestation, data }), {
    code: "bad-signature",
  });
  const signature = sc.attestation.signature.signature.slice();
  signature[0] = signature[0]! ^ 1;
  await assert.rejects(
    verifyPurposeKeyAttestation(me.identity, {
      data: sc.attestation.data,
      signature: { ...sc.attestation.signature, signature },
    }),
    { code: "bad-signature" },
  );
  const before = me.identity;
  await me.rotate();
  await assert.rejects(verifyPurposeKeyAttestation(me.identity, sc.attestation), {
    code: "stale-attestation",
  });
  // Against the old history it still verifies (purpose keys are tied to a change).
  await verifyPurposeKeyAttestation(before, sc.attestation);
});

Deno.test("verifySecureChannelPeer checks key type and the Noise static key", async () => {
  const peer = await createIdentity(new Vault());
  const sc = await peer.createSecureChannelKey();
  const ck = await peer.createCredentialKey();
  const identity = await verifySecureChannelPeer({
    changeHistory: peer.changeHistory,
    attestation: encodePurposeKeyAttestation(sc.attestation),
    remoteStaticKey: sc.key.publicKey,
  });
  assert.equal(identity.identifier, peer.identifier);
  await assert.rejects(
    verifySecureChannelPeer({
      changeHistory: peer.changeHistory,
      attestation: sc.attestation,
      remoteStaticKey: crypto.getRandomValues(new Uint8Array(32)),
    }),
    { name: "TrustError", code: "purpose-key-mismatch" },
  );
  await assert.rejects(
    verifySecureChannelPeer({
      changeHistory: peer.changeHistory,
      attestation: ck.attestation,
      remoteStaticKey: sc.key.publicKey,
    }),
    { name: "TrustError", code: "wrong-key-type" },
  );
  const other = await createIdentity(new Vault());
  await assert.rejects(
    verifySecureChannelPeer({
      changeHistory: other.changeHistory,
      attestation: sc.attestation,
      remoteStaticKey: sc.key.publicKey,
    }),
    { name: "TrustError", code: "wrong-subject" },
  );
});

Deno.test("Elixir identity test: import Ockam's identity with its secret and attest a key", async () => {
  const vector = vectors.histories.find((h) => h.name === "elixir_identity_test")!;
  const keys = new MemoryKeyStore();
  await keys.set("elixir", { algorithm: "Ed25519", privateKey: fromHex(vector.secretKey!) });
  const me = await openIdentity(new Vault({ store: keys }), {
    changeHistory: fromHex(vector.changeHistory),
    primaryKeyId: "elixir",
  });
  assert.equal(me.identifier, vector.identifier);
  // The history's window is 2023-11-16 .. 2033-11-13; attest inside it.
  const now = at(1_750_000_000);
  const sc = await me.createSecureChannelKey({ clock: now });
  const identity = await verifySecureChannelPeer({
    changeHistory: me.changeHistory,
    attestation: sc.attestation,
    remoteStaticKey: sc.key.publicKey,
  }, { clock: now });
  assert.equal(identity.identifier, vector.identifier);
  // A different key is not this identity's primary key.
  const wrong = new MemoryKeyStore();
  await wrong.set("k", { algorithm: "Ed25519", privateKey: new Uint8Array(32) });
  await assert.rejects(
    openIdentity(new Vault({ store: wrong }), {
      changeHistory: fromHex(vector.changeHistory),
      primaryKeyId: "k",
    }),
    { name: "TrustError", code: "key-mismatch" },
  );
});

Deno.test("attestation codecs reject malformed input with DecodeErrors", () => {
  assert.throws(
    () => decodePurposeKeyAttestation(new Uint8Array([0x82, 0x40, 0x82, 0x00, 0x81, 0x40])),
    {
      name: "DecodeError",
      code: "bad-length",
    },
  );
  // data_type 2, but PurposePublicKey variant 3.
  const inner = new Uint8Array([
    0x85,
    0x58,
    0x20,
    ...new Uint8Array(32),
    0x58,
    0x20,
    ...new Uint8Array(32),
    0x82,
    0x03,
    0x81,
    0x40,
    0x00,
    0x01,
  ]);
  const data = new Uint8Array([0x83, 0x01, 0x02, 0x58, inner.length, ...inner]);
  assert.throws(() => decodePurposeKeyAttestationData(data), {
    name: "DecodeError",
    code: "unknown-key-kind",
  });
});
