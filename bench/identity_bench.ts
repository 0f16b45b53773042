// Identity benchmarks: credential verifications/s and change-history verifications/s.
// Run: npx -y deno@2.9.6 bench -A bench/identity_bench.ts
import {
  createIdentity,
  encodeCredential,
  importIdentity,
  issueCredential,
  type LocalIdentity,
  verifyCredential,
} from "../identity/mod.ts";
import type { SignatureAlgorithm } from "../vault/mod.ts";
import { Vault } from "../vault/mod.ts";

async function identityWith(
  algorithm: SignatureAlgorithm,
  changes: number,
): Promise<LocalIdentity> {
  const local = await createIdentity(new Vault(), { algorithm });
  for (let i = 1; i < changes; i++) await local.rotate({ algorithm });
  return local;
}

for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
  for (const changes of [1, 3]) {
    const local = await identityWith(algorithm, changes);
    const history = local.changeHistory;
    Deno.bench({
      name: `importIdentity ${algorithm}, ${changes} change${changes > 1 ? "s" : ""}`,
      group: "history",
      async fn() {
        await importIdentity(history);
      },
    });
  }
  const authority = await createIdentity(new Vault(), { algorithm });
  await authority.createCredentialKey({ algorithm });
  const member = await createIdentity(new Vault());
  const credential = encodeCredential(
    await issueCredential({
      issuer: authority,
      subject: member.identity,
      attributes: { role: "operator", project: "p-1234" },
    }),
  );
  Deno.bench({
    name: `verifyCredential ${algorithm} (attestation + credential, from CBOR)`,
    group: "credential",
    async fn() {
      await verifyCredential(credential, {
        authorities: [authority.identity],
        subject: member.identifier,
      });
    },
  });
}
