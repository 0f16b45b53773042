import assert from "node:assert/strict";
import { toHex } from "../_bytes.ts";
import { MemoryKeyStore, Vault } from "../vault/mod.ts";
import { importIdentity } from "./identity.ts";
import { MemoryIdentityStore } from "./identity_store.ts";
import { issueCredential } from "./issue_credential.ts";
import { createIdentity, loadOrCreateIdentity } from "./local_identity.ts";
import { verifyPurposeKeyAttestation } from "./purpose_key.ts";

const T = 1_700_000_000;
const at = (t: number) => () => t;

Deno.test("loadOrCreateIdentity keeps identity, purpose keys and credentials", async () => {
  const keys = new MemoryKeyStore();
  const store = new MemoryIdentityStore();
  const open = () =>
    loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "dev", clock: at(T) });
  const first = await open();
  const sc = await first.secureChannelKey({ clock: at(T) });
  const ck = await first.credentialKey({ clock: at(T) });
  const credential = await issueCredential({
    issuer: first,
    subject: first.identity,
    attributes: { a: "1" },
    clock: at(T),
  });
  await first.addCredential(credential);

  const second = await open();
  assert.equal(second.identifier, first.identifier);
  assert.equal(second.primaryKeyId, first.primaryKeyId);
  const sc2 = await second.secureChannelKey({ clock: at(T + 5) });
  assert.equal(sc2.keyId, sc.keyId);
  assert.deepEqual(sc2.key.publicKey, sc.key.publicKey);
  assert.equal((await second.credentialKey({ clock: at(T + 5) })).keyId, ck.keyId);
  assert.deepEqual(second.credentials, [credential]);
  // The reloaded keys still sign and attest.
  const fresh = await second.createSecureChannelKey({ clock: at(T + 5) });
  await verifyPurposeKeyAttestation(second.identity, fresh.attestation, { clock: at(T + 5) });
});

Deno.test("an expired purpose key is replaced on demand", async () => {
  const me = await createIdentity(new Vault(), { clock: at(T) });
  const first = await me.secureChannelKey({ clock: at(T), ttl: 10 });
  assert.equal((await me.secureChannelKey({ clock: at(T + 10) })).keyId, first.keyId);
  const second = await me.secureChannelKey({ clock: at(T + 11) });
  assert.notEqual(second.keyId, first.keyId);
});

Deno.test("rotation is persisted and drops old keys", async () => {
  const keys = new MemoryKeyStore();
  const store = new MemoryIdentityStore();
  const vault = new Vault({ store: keys });
  const me = await loadOrCreateIdentity({ vault, store, name: "dev" });
  const oldPrimary = me.primaryKeyId;
  const sc = await me.secureChannelKey();
  await me.rotate({ revokeAllPurposeKeys: true, algorithm: "ECDSA-P256" });
  assert.equal(await keys.get(oldPrimary), undefined);
  assert.equal(await keys.get(sc.keyId), undefined);
  const again = await loadOrCreateIdentity({
    vault: new Vault({ store: keys }),
    store,
    name: "dev",
  });
  assert.equal(again.identity.changes.length, 2);
  assert.equal(again.identity.primaryPublicKey.algorithm, "ECDSA-P256");
  const sc2 = await again.secureChannelKey();
  assert.notEqual(sc2.keyId, sc.keyId);
  await verifyPurposeKeyAttestation(await importIdentity(again.changeHistory), sc2.attestation);
});

Deno.test("a stored record whose key is missing or wrong is an error", async () => {
  const store = new MemoryIdentityStore();
  const keys = new MemoryKeyStore();
  const me = await loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "dev" });
  await assert.rejects(loadOrCreateIdentity({ vault: new Vault(), store, name: "dev" }), {
    name: "VaultError",
    code: "unknown-key",
  });
  const record = (await store.get("dev"))!;
  const other = await createIdentity(new Vault({ store: keys }), { persist: true });
  await store.set("dev", { ...record, primaryKeyId: other.primaryKeyId });
  await assert.rejects(
    loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "dev" }),
    {
      name: "TrustError",
      code: "key-mismatch",
    },
  );
  assert.match(String(me), /^LocalIdentity\(I[0-9a-f]{64}\)$/);
});

Deno.test("nothing secret in toString, JSON or error messages", async () => {
  const keys = new MemoryKeyStore();
  const store = new MemoryIdentityStore();
  const me = await loadOrCreateIdentity({ vault: new Vault({ store: keys }), store, name: "dev" });
  const sc = await me.secureChannelKey();
  const secrets = [
    toHex((await keys.get(me.primaryKeyId))!.privateKey),
    toHex((await keys.get(sc.keyId))!.privateKey),
  ];
  const texts = [
    String(me),
    String(me.identity),
    JSON.stringify(me),
    String(sc.key),
    JSON.stringify(await store.get("dev"), (_, v) => v instanceof Uint8Array ? toHex(v) : v),
  ];
  const other = await createIdentity(new Vault());
  for (
    const attempt of [
      () => verifyPurposeKeyAttestation(other.identity, sc.attestation),
      () => importIdentity(new Uint8Array([0x81, 0x82, 0x41, 0x00, 0x80])),
    ]
  ) {
    try {
      await attempt();
    } catch (error) {
      texts.push(String(error), (error as Error).message);
    }
  }
  for (const text of texts) {
    for (const secret of secrets) assert(!text.includes(secret), text);
  }
});
