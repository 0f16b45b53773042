import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { Vault } from "../vault/mod.ts";
import {
  decodeIdentityAndCredentials,
  decodeRefreshCredentials,
  encodeIdentityAndCredentials,
  encodeRefreshCredentials,
} from "./handshake_payload.ts";
import { issueCredential } from "./issue_credential.ts";
import { createIdentity } from "./local_identity.ts";
import { encodePurposeKeyAttestation } from "./purpose_key.ts";
import { trustCredentials, trustIdentifiers } from "./trust_policy.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };
import { verifyIdentityAndCredentials } from "./verify_peer.ts";

Deno.test("IdentityAndCredentials embeds the change history array, not a byte string", async () => {
  const me = await createIdentity(new Vault());
  const { attestation } = await me.createSecureChannelKey();
  const payload = encodeIdentityAndCredentials({
    changeHistory: me.changeHistory,
    purposeKeyAttestation: attestation,
    credentials: [],
  });
  const expected = toHex(
    new Uint8Array([0x83, ...me.changeHistory, ...encodePurposeKeyAttestation(attestation), 0x80]),
  );
  assert.equal(toHex(payload), expected);
  const decoded = decodeIdentityAndCredentials(payload);
  assert.deepEqual(decoded.changeHistory, me.changeHistory);
  assert.deepEqual(decoded.purposeKeyAttestation, attestation);
  assert.deepEqual(decoded.credentials, []);
});

Deno.test("Ockam's RefreshCredentials fields round-trip byte for byte", () => {
  const message = fromHex(vectors.refreshCredentials.message);
  const inner = message.subarray(4, message.length - 1);
  const decoded = decodeRefreshCredentials(inner);
  assert.equal(decoded.credentials.length, 1);
  assert.equal(toHex(encodeRefreshCredentials(decoded)), toHex(inner));
});

Deno.test("payload decoders reject malformed input", () => {
  assert.throws(() => decodeIdentityAndCredentials(new Uint8Array([0x82, 0x80, 0x80])), {
    code: "bad-length",
  });
  assert.throws(() => decodeIdentityAndCredentials(new Uint8Array([0x83, 0x40, 0x80, 0x80])), {
    name: "DecodeError",
  });
  assert.throws(() => decodeRefreshCredentials(new Uint8Array([0x82, 0x80, 0x40])), {
    code: "unexpected-type",
  });
  assert.throws(
    () =>
      encodeRefreshCredentials({ changeHistory: new Uint8Array([0x41, 0x00]), credentials: [] }),
    { name: "DecodeError" },
  );
});

Deno.test("verifyIdentityAndCredentials: credentials, rejected credentials, trust policy", async () => {
  const authority = await createIdentity(new Vault());
  const stranger = await createIdentity(new Vault());
  const peer = await createIdentity(new Vault());
  const { key, attestation } = await peer.createSecureChannelKey();
  const good = await issueCredential({
    issuer: authority,
    subject: peer.identity,
    attributes: { role: "ops" },
  });
  const forOther = await issueCredential({
    issuer: authority,
    subject: stranger.identity,
    attributes: { role: "admin" },
  });
  const untrusted = await issueCredential({
    issuer: stranger,
    subject: peer.identity,
    attributes: { role: "admin" },
  });
  const payload = encodeIdentityAndCredentials({
    changeHistory: peer.changeHistory,
    purposeKeyAttestation: attestation,
    credentials: [good, forOther, untrusted],
  });
  const verified = await verifyIdentityAndCredentials(payload, {
    remoteStaticKey: key.publicKey,
    authorities: [authority.identity],
  });
  assert.equal(verified.credentials.length, 1);
  assert.deepEqual(verified.rejectedCredentials.map((e) => e.code), [
    "wrong-subject",
    "untrusted-issuer",
  ]);
  assert.equal(new TextDecoder().decode(verified.attributes.role), "ops");
  // Without authorities credentials are not looked at.
  const bare = await verifyIdentityAndCredentials(payload, { remoteStaticKey: key.publicKey });
  assert.equal(bare.credentials.length, 0);
  await assert.rejects(
    verifyIdentityAndCredentials(payload, {
      remoteStaticKey: key.publicKey,
      authorities: [authority.identity],
      trustPolicy: trustCredentials({
        authorities: [authority.identifier],
        attributes: { role: "admin" },
      }),
    }),
    { name: "TrustError", code: "untrusted-peer" },
  );
  await assert.rejects(
    verifyIdentityAndCredentials(payload, {
      remoteStaticKey: key.publicKey,
      trustPolicy: trustIdentifiers(stranger.identifier),
    }),
    { code: "untrusted-peer" },
  );
  await assert.rejects(
    verifyIdentityAndCredentials(payload, { remoteStaticKey: new Uint8Array(32) }),
    { code: "purpose-key-mismatch" },
  );
});
