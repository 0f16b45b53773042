// Bounds and the order of checks on what a peer presents (issue 12: "peer identity
// histories are fully verified before the trust policy runs"): sizes first, then the trust
// policy on the claimed identifier, and only then signatures.
import assert from "node:assert/strict";
import { Vault } from "../vault/mod.ts";
import { arrayHeader } from "./_cbor.ts";
import { concat } from "../_bytes.ts";
import type { CredentialAndPurposeKey } from "./credential.ts";
import { encodeIdentityAndCredentials, encodeRefreshCredentials } from "./handshake_payload.ts";
import { claimedIdentifier, DEFAULT_MAX_CHANGES, importIdentity } from "./identity.ts";
import { issueCredential } from "./issue_credential.ts";
import { createIdentity, type LocalIdentity } from "./local_identity.ts";
import { allOf, anyOf, trustCredentials, trustEveryone, trustIdentifiers } from "./trust_policy.ts";
import { verifyCredential } from "./verify_credential.ts";
import {
  DEFAULT_MAX_CREDENTIALS,
  verifyIdentityAndCredentials,
  verifyRefreshCredentials,
} from "./verify_peer.ts";

/** A history of `count` copies of a one-change history's change: decodes, never verifies. */
function longHistory(history: LocalIdentity | Uint8Array, count: number): Uint8Array {
  const bytes = history instanceof Uint8Array ? history : history.changeHistory;
  const change = bytes.subarray(arrayHeader(1).length);
  const parts = [arrayHeader(count)];
  for (let i = 0; i < count; i++) parts.push(change);
  return concat(...parts);
}

/** `history` with its last byte (inside the first change's signature) flipped. */
function badSignature(history: Uint8Array): Uint8Array {
  const out = history.slice();
  out[out.length - 1]! ^= 1;
  return out;
}

async function peerPayload(
  changeHistory?: Uint8Array,
  credentials: CredentialAndPurposeKey[] = [],
) {
  const peer = await createIdentity(new Vault());
  const { key, attestation } = await peer.createSecureChannelKey();
  const payload = encodeIdentityAndCredentials({
    changeHistory: changeHistory ?? peer.changeHistory,
    purposeKeyAttestation: attestation,
    credentials,
  });
  return { peer, payload, remoteStaticKey: key.publicKey };
}

Deno.test("a history longer than the bound is refused before any change is verified", async () => {
  const me = await createIdentity(new Vault());
  await assert.rejects(importIdentity(longHistory(me, DEFAULT_MAX_CHANGES + 1)), {
    name: "TrustError",
    code: "too-many-changes",
  });
  // Under a higher bound the same bytes reach verification (and fail the chain check).
  await assert.rejects(importIdentity(longHistory(me, 33), { maxChanges: 64 }), {
    code: "broken-chain",
  });
  await assert.rejects(claimedIdentifier(longHistory(me, 33)), { code: "too-many-changes" });
  assert.equal(await claimedIdentifier(me.changeHistory), me.identifier);
});

Deno.test("a 20,000-change history bomb is refused on its count, before any signature", async () => {
  const me = await createIdentity(new Vault());
  // Every copy of the change carries a broken signature: had anything been verified before
  // the count, the refusal would be bad-signature.
  const one = badSignature(me.changeHistory);
  await assert.rejects(importIdentity(one), { code: "bad-signature" });
  const bomb = longHistory(one, 20_000);
  await assert.rejects(importIdentity(bomb), { code: "too-many-changes" });
  const { payload, remoteStaticKey } = await peerPayload(bomb);
  await assert.rejects(verifyIdentityAndCredentials(payload, { remoteStaticKey }), {
    code: "too-many-changes",
  });
  const refresh = encodeRefreshCredentials({ changeHistory: bomb, credentials: [] });
  await assert.rejects(verifyRefreshCredentials(refresh, { peer: me.identity }), {
    code: "too-many-changes",
  });
});

Deno.test("an expected identifier is checked before any signature", async () => {
  const me = await createIdentity(new Vault());
  const other = await createIdentity(new Vault());
  const broken = badSignature(me.changeHistory);
  await assert.rejects(importIdentity(broken), { code: "bad-signature" });
  await assert.rejects(importIdentity(broken, { expectedIdentifier: other.identifier }), {
    code: "identifier-mismatch",
  });
});

Deno.test("the trust policy refuses a peer on its claimed identifier before verifying it", async () => {
  const peer = await createIdentity(new Vault());
  const { payload, remoteStaticKey } = await peerPayload(badSignature(peer.changeHistory));
  const stranger = "I" + "ab".repeat(32);
  const authority = "I" + "cd".repeat(32);
  // These policies cannot trust the peer whatever it presents: refused before verification.
  for (
    const policy of [
      trustIdentifiers(stranger),
      allOf(trustEveryone(), trustIdentifiers(stranger)),
      trustCredentials({ authorities: [authority] }), // no credentials presented
      anyOf(trustIdentifiers(stranger), trustCredentials({ authorities: [authority] })),
    ]
  ) {
    await assert.rejects(
      verifyIdentityAndCredentials(payload, { remoteStaticKey, trustPolicy: policy }),
      { name: "TrustError", code: "untrusted-peer" },
      JSON.stringify(policy),
    );
  }
  // These may trust it: its history is verified, and its bad signature found.
  for (const policy of [trustEveryone(), trustIdentifiers(peer.identifier)]) {
    await assert.rejects(
      verifyIdentityAndCredentials(payload, { remoteStaticKey, trustPolicy: policy }),
      { code: "bad-signature" },
    );
  }
});

Deno.test("too many credentials, or one too large, are refused before any is verified", async () => {
  const authority = await createIdentity(new Vault());
  const subject = await createIdentity(new Vault());
  const credential = await issueCredential({
    issuer: authority,
    subject: subject.identity,
    attributes: { role: "ops" },
  });
  const many = Array.from({ length: DEFAULT_MAX_CREDENTIALS + 1 }, () => credential);
  const { payload, remoteStaticKey } = await peerPayload(undefined, many);
  await assert.rejects(
    verifyIdentityAndCredentials(payload, { remoteStaticKey, authorities: [authority.identity] }),
    { code: "too-many-credentials" },
  );
  const big = await issueCredential({
    issuer: authority,
    subject: subject.identity,
    attributes: { blob: new Uint8Array(20_000) },
  });
  await assert.rejects(verifyCredential(big, { authorities: [authority.identity] }), {
    code: "credential-too-large",
  });
  const accepted = await verifyCredential(big, {
    authorities: [authority.identity],
    maxCredentialSize: 32_000,
  });
  assert.equal(accepted.attributes.blob!.length, 20_000);
  const withBig = await peerPayload(undefined, [big]);
  await assert.rejects(
    verifyIdentityAndCredentials(withBig.payload, {
      remoteStaticKey: withBig.remoteStaticKey,
      authorities: [authority.identity],
    }),
    { code: "credential-too-large" },
  );
});

Deno.test("a refresh from another identity is refused on its claimed identifier", async () => {
  const me = await createIdentity(new Vault());
  const other = await createIdentity(new Vault());
  const authority = await createIdentity(new Vault());
  // Another identity's history, broken too: refused as wrong-identity, never verified.
  const refresh = encodeRefreshCredentials({
    changeHistory: badSignature(other.changeHistory),
    credentials: [],
  });
  await assert.rejects(
    verifyRefreshCredentials(refresh, { peer: me.identity, authorities: [authority.identity] }),
    { name: "TrustError", code: "wrong-identity" },
  );
  // The peer's own, unchanged history is not verified again; a rotated one is.
  const same = encodeRefreshCredentials({ changeHistory: me.changeHistory, credentials: [] });
  const again = await verifyRefreshCredentials(same, {
    peer: me.identity,
    authorities: [authority.identity],
  });
  assert.equal(again.identity, me.identity);
  const before = me.identity;
  await me.rotate();
  const rotated = encodeRefreshCredentials({ changeHistory: me.changeHistory, credentials: [] });
  const after = await verifyRefreshCredentials(rotated, {
    peer: before,
    authorities: [authority.identity],
  });
  assert.equal(after.identity.changes.length, 2);
});
