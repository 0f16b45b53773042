import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { MemoryKeyStore, Vault, verifySignature } from "../vault/mod.ts";
import { sha256 } from "./_common.ts";
import {
  credentialToHex,
  decodeCredential,
  decodeCredentialData,
  encodeCredential,
  encodeCredentialData,
} from "./credential.ts";
import { decodeRefreshCredentials } from "./handshake_payload.ts";
import { importIdentity } from "./identity.ts";
import { issueCredential } from "./issue_credential.ts";
import { createIdentity, type LocalIdentity, openIdentity } from "./local_identity.ts";
import { decodePurposeKeyAttestationData } from "./purpose_key.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };
import { verifyCredential } from "./verify_credential.ts";

const T = 1_700_000_000;
const at = (t: number) => () => t;
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function ockamCredential() {
  const message = fromHex(vectors.refreshCredentials.message);
  // SecureChannelPaddedMessage: 82 [82 01 81 <RefreshCredentials>] 40
  assert.equal(toHex(message.subarray(0, 4)), "82820181");
  assert.equal(message[message.length - 1], 0x40);
  return decodeRefreshCredentials(message.subarray(4, message.length - 1));
}

Deno.test("Ockam's credential: data re-encodes byte for byte (bytewise attribute order)", () => {
  const { credentials } = ockamCredential();
  const credential = credentials[0]!;
  const data = decodeCredentialData(credential.credential.data);
  assert.equal(data.subject, "I904192e6e480915e0d1256d3abf9c3c9c67bc2b4c41ffca77550d8a3f12fbb1e");
  assert.deepEqual(Object.keys(data.attributes), [
    "ockam-relay",
    "ockam-role",
    "project_id",
    "trust_context_id",
  ]);
  assert.equal(text(data.attributes["ockam-role"]), "enroller");
  assert.equal(text(data.attributes["ockam-relay"]), "*");
  assert.equal(data.expiresAt - data.createdAt, 30);
  assert.deepEqual(encodeCredentialData(data), credential.credential.data);
  assert.deepEqual(
    encodeCredential(credential),
    fromHex(vectors.refreshCredentials.message).subarray(
      -(encodeCredential(credential).length + 1),
      -1,
    ),
  );
});

Deno.test("Ockam's credential: the signature verifies with the attested credential key", async () => {
  const { credentials } = ockamCredential();
  const credential = credentials[0]!;
  const key = decodePurposeKeyAttestationData(credential.purposeKeyAttestation.data);
  assert.equal(key.subject, "Ib1fea1775d75079abdb1e78b96921fa9ec340bc2b5aa70f37e65342d859cf550");
  assert(key.publicKey.type === "credential-signing");
  const hash = await sha256(credential.credential.data);
  assert(
    await verifySignature(
      "Ed25519",
      key.publicKey.key.publicKey,
      hash,
      credential.credential.signature.signature,
    ),
  );
  // The issuer's change history is not in the repository, so full verification stops at the issuer.
  const subject = await importIdentity(ockamCredential().changeHistory);
  await assert.rejects(
    verifyCredential(credential, { authorities: [subject], clock: at(0x659ca3d0) }),
    {
      code: "untrusted-issuer",
    },
  );
});

async function setup(): Promise<{ authority: LocalIdentity; member: LocalIdentity }> {
  const authority = await createIdentity(new Vault(), { clock: at(T) });
  const member = await createIdentity(new Vault(), { clock: at(T) });
  return { authority, member };
}

Deno.test("a credential verifies; attributes, issuer and expiry come back", async () => {
  const { authority, member } = await setup();
  const credential = await issueCredential({
    issuer: authority,
    subject: member.identity,
    attributes: { role: "operator", blob: new Uint8Array([0, 255]) },
    ttl: 3600,
    clock: at(T),
  });
  for (const input of [credential, encodeCredential(credential), credentialToHex(credential)]) {
    const verified = await verifyCredential(input, {
      authorities: [authority.identity],
      subject: member.identifier,
      clock: at(T + 10),
    });
    assert.equal(verified.issuer, authority.identifier);
    assert.equal(verified.subject, member.identifier);
    assert.equal(text(verified.attributes.role), "operator");
    assert.deepEqual(verified.attributes.blob, new Uint8Array([0, 255]));
    assert.equal(verified.expiresAt, T + 3600);
  }
});

Deno.test("P-256 authority with a P-256 credential key", async () => {
  const authority = await createIdentity(new Vault(), { algorithm: "ECDSA-P256" });
  const member = await createIdentity(new Vault());
  const key = await authority.createCredentialKey({ algorithm: "ECDSA-P256" });
  const credential = await issueCredential({
    issuer: key,
    subject: member.identity,
    attributes: { a: "b" },
  });
  const verified = await verifyCredential(credential, { authorities: [authority.identity] });
  assert.equal(text(verified.attributes.a), "b");
});

Deno.test("expired and not-yet-valid credentials are rejected (with skew)", async () => {
  const { authority, member } = await setup();
  const credential = await issueCredential({
    issuer: authority,
    subject: member.identity,
    attributes: {},
    ttl: 100,
    clock: at(T + 1000),
  });
  const verify = (t: number, skew?: number) =>
    verifyCredential(credential, {
      authorities: [authority.identity],
      clock: at(t),
      ...(skew === undefined ? {} : { skew }),
    });
  await verify(T + 1100);
  await assert.rejects(verify(T + 1101), { name: "TrustError", code: "expired" });
  await verify(T + 940);
  await assert.rejects(verify(T + 939), { name: "TrustError", code: "not-yet-valid" });
  await verify(T + 900, 100);
});

Deno.test("wrong subject, untrusted issuer and missing subject are rejected", async () => {
  const { authority, member } = await setup();
  const stranger = await createIdentity(new Vault());
  const credential = await issueCredential({
    issuer: authority,
    subject: member.identity,
    attributes: {},
  });
  await assert.rejects(
    verifyCredential(credential, {
      authorities: [authority.identity],
      subject: stranger.identifier,
    }),
    { name: "TrustError", code: "wrong-subject" },
  );
  await assert.rejects(verifyCredential(credential, { authorities: [stranger.identity] }), {
    name: "TrustError",
    code: "untrusted-issuer",
  });
  await assert.rejects(verifyCredential(credential, { authorities: [] }), {
    code: "untrusted-issuer",
  });
  // A credential without a subject, signed properly.
  const key = await authority.credentialKey();
  const data = encodeCredentialData({
    subject: null,
    subjectLatestChangeHash: member.identity.latestChangeHash,
    schema: 0,
    attributes: {},
    createdAt: key.data.createdAt,
    expiresAt: key.data.createdAt + 10,
  });
  const signature = {
    algorithm: key.key.algorithm,
    signature: await key.key.sign(await sha256(data)),
  };
  await assert.rejects(
    verifyCredential({ credential: { data, signature }, purposeKeyAttestation: key.attestation }, {
      authorities: [authority.identity],
      clock: at(key.data.createdAt),
    }),
    { code: "missing-subject" },
  );
});

Deno.test("tampered attributes or signature are rejected", async () => {
  const { authority, member } = await setup();
  const credential = await issueCredential({
    issuer: authority,
    subject: member.identity,
    attributes: { role: "user" },
    clock: at(T),
  });
  const hex = toHex(credential.credential.data);
  const tampered = fromHex(
    hex.replace(toHex(new TextEncoder().encode("user")), toHex(new TextEncoder().encode("root"))),
  );
  assert.notEqual(toHex(tampered), hex);
  const options = { authorities: [authority.identity], clock: at(T) };
  await assert.rejects(
    verifyCredential(
      { ...credential, credential: { ...credential.credential, data: tampered } },
      options,
    ),
    { name: "TrustError", code: "bad-signature" },
  );
  // Signed by a different credential key of the same authority, presenting the old attestation.
  const other = await authority.createCredentialKey({ clock: at(T) });
  await assert.rejects(
    verifyCredential({ ...credential, purposeKeyAttestation: other.attestation }, options),
    { code: "bad-signature" },
  );
});

Deno.test("a credential signed with a secure-channel key is wrong-key-type", async () => {
  const { authority, member } = await setup();
  const sc = await authority.createSecureChannelKey({ clock: at(T) });
  const credential = await issueCredential({
    issuer: authority,
    subject: member.identity,
    attributes: {},
    clock: at(T),
  });
  await assert.rejects(
    verifyCredential({ ...credential, purposeKeyAttestation: sc.attestation }, {
      authorities: [authority.identity],
      clock: at(T),
    }),
    { code: "wrong-key-type" },
  );
});

Deno.test("credential windows must lie inside the signing key's window", async () => {
  const { authority, member } = await setup();
  const key = await authority.createCredentialKey({ clock: at(T), ttl: 100 });
  // issueCredential caps the ttl at the key's expiry.
  const capped = await issueCredential({
    issuer: key,
    subject: member.identity,
    attributes: {},
    ttl: 1000,
    clock: at(T),
  });
  assert.equal(decodeCredentialData(capped.credential.data).expiresAt, T + 100);
  const data = encodeCredentialData({
    subject: member.identifier,
    subjectLatestChangeHash: member.identity.latestChangeHash,
    schema: 0,
    attributes: {},
    createdAt: T,
    expiresAt: T + 101,
  });
  const signature = {
    algorithm: key.key.algorithm,
    signature: await key.key.sign(await sha256(data)),
  };
  await assert.rejects(
    verifyCredential({ credential: { data, signature }, purposeKeyAttestation: key.attestation }, {
      authorities: [authority.identity],
      clock: at(T),
    }),
    { code: "outside-purpose-key-window" },
  );
});

Deno.test("Ockam example issuer (with its published secret) issues a credential to the example client", async () => {
  const issuerVector = vectors.histories.find((h) => h.name === "example_issuer")!;
  const clientVector = vectors.histories.find((h) => h.name === "example_client")!;
  const keys = new MemoryKeyStore();
  await keys.set("issuer", { algorithm: "Ed25519", privateKey: fromHex(issuerVector.secretKey!) });
  const issuer = await openIdentity(new Vault({ store: keys }), {
    changeHistory: fromHex(issuerVector.changeHistory),
    primaryKeyId: "issuer",
  });
  const client = await importIdentity(fromHex(clientVector.changeHistory));
  const now = at(1_750_000_000);
  const credential = await issueCredential({
    issuer,
    subject: client,
    attributes: { cluster: "production" },
    clock: now,
  });
  const verified = await verifyCredential(credentialToHex(credential), {
    authorities: [await importIdentity(fromHex(issuerVector.changeHistory))],
    subject: clientVector.identifier!,
    clock: now,
  });
  assert.equal(text(verified.attributes.cluster), "production");
});

Deno.test("attribute maps with keys of different lengths encode in bytewise order", () => {
  const data = encodeCredentialData({
    subject: null,
    subjectLatestChangeHash: null,
    schema: 7,
    attributes: { zz: "1", a: "2", "ockam-role": "3", "ockam-relay": "4", ab: "5", "": "6" },
    createdAt: 1,
    expiresAt: 2,
  });
  assert.deepEqual(Object.keys(decodeCredentialData(data).attributes), [
    "",
    "a",
    "ab",
    "ockam-relay",
    "ockam-role",
    "zz",
  ]);
});

Deno.test("credential decoding rejects duplicate and non-UTF-8 attribute names, bad hex", () => {
  const build = (mapHex: string) => {
    const inner = fromHex(`85f6f682 00${mapHex} 0102`.replace(/ /g, ""));
    return new Uint8Array([0x83, 0x01, 0x03, 0x40 + inner.length, ...inner]);
  };
  assert.equal(Object.keys(decodeCredentialData(build("a1416140")).attributes)[0], "a");
  assert.throws(() => decodeCredentialData(build("a2416140416140")), {
    name: "DecodeError",
    code: "duplicate-attribute",
  });
  assert.throws(() => decodeCredentialData(build("a141ff40")), {
    name: "DecodeError",
    code: "bad-attribute-name",
  });
  assert.throws(() => decodeCredentialData(build("a1616140")), {
    name: "DecodeError",
    code: "unexpected-type",
  });
  assert.throws(() => decodeCredential("abc"), { name: "DecodeError", code: "bad-hex" });
  // "__proto__" is an ordinary attribute name.
  const proto = decodeCredentialData(build("a1495f5f70726f746f5f5f4101")).attributes;
  assert.deepEqual(proto["__proto__"], new Uint8Array([1]));
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
});
