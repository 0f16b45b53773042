// Helper process for identity_restart_test.ts: loads (or creates) the identity kept in
// the directory given as the first argument, makes a secure-channel attestation, and
// prints one JSON line describing what it used.
import { loadOrCreateIdentity } from "../identity/mod.ts";
import { encodePurposeKeyAttestation } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { toHex } from "../_bytes.ts";

const dir = Deno.args[0];
if (!dir) throw new Error("usage: identity_restart_child.ts <dir>");
const me = await loadOrCreateIdentity({
  vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
  store: new FileIdentityStore(`${dir}/identities`),
  name: "device",
});
const key = await me.secureChannelKey();
const fresh = await me.attest(
  { type: "secure-channel", publicKey: key.key.publicKey },
  { createdAt: key.data.createdAt, expiresAt: key.data.expiresAt },
);
console.log(JSON.stringify({
  identifier: me.identifier,
  primaryKeyId: me.primaryKeyId,
  changeHistory: toHex(me.changeHistory),
  secureChannelKeyId: key.keyId,
  secureChannelPublicKey: toHex(key.key.publicKey),
  attestation: toHex(encodePurposeKeyAttestation(fresh)),
}));
