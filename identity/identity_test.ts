import assert from "node:assert/strict";
import { fromHex } from "../_bytes.ts";
import {
  generateSigningKey,
  type SignatureAlgorithm,
  type SigningKey,
  Vault,
} from "../vault/mod.ts";
import { sha256, signHash } from "./_common.ts";
import {
  type Change,
  type ChangeData,
  decodeChangeHistory,
  encodeChangeData,
  encodeChangeHistory,
} from "./change_history.ts";
import { compareHistories, importIdentity } from "./identity.ts";
import { createIdentity } from "./local_identity.ts";
import vectors from "./testdata/ockam_vectors.json" with { type: "json" };

Deno.test("identifiers of Ockam's known histories", async () => {
  for (const vector of vectors.histories) {
    const identity = await importIdentity(fromHex(vector.changeHistory));
    if (vector.identifier !== null) {
      assert.equal(identity.identifier, vector.identifier, vector.name);
    }
    assert.deepEqual(identity.changeHistory, fromHex(vector.changeHistory));
    assert.equal(identity.toString(), `Identity(${identity.identifier})`);
  }
});

Deno.test("the P-256 history with a high-S signature verifies", async () => {
  const vector = vectors.histories.find((h) => h.name === "p256_orchestrator")!;
  const identity = await importIdentity(fromHex(vector.changeHistory));
  assert.equal(identity.primaryPublicKey.algorithm, "ECDSA-P256");
});

Deno.test("expectedIdentifier must match", async () => {
  const vector = vectors.histories[0]!;
  await importIdentity(fromHex(vector.changeHistory), { expectedIdentifier: vector.identifier! });
  await assert.rejects(
    importIdentity(fromHex(vector.changeHistory), {
      expectedIdentifier: vectors.histories[1]!.identifier!,
    }),
    { name: "TrustError", code: "identifier-mismatch" },
  );
});

Deno.test("an empty history is rejected", async () => {
  await assert.rejects(importIdentity(new Uint8Array([0x80])), {
    name: "TrustError",
    code: "empty-history",
  });
});

// ---- hand-built histories ----

interface Step {
  key: SigningKey;
  validFrom?: number;
  revoke?: boolean;
}

async function buildChanges(steps: Step[]): Promise<Change[]> {
  const changes: Change[] = [];
  let previousHash: Uint8Array | null = null;
  let previousKey: SigningKey | undefined;
  for (const [i, step] of steps.entries()) {
    const data: ChangeData = {
      previousChange: previousHash,
      primaryPublicKey: { algorithm: step.key.algorithm, publicKey: step.key.publicKey },
      revokeAllPurposeKeys: step.revoke ?? false,
      attestationsValidFrom: step.validFrom ?? 1_700_000_000 + i,
      attestationsValidUntil: 2_000_000_000,
    };
    const bytes = encodeChangeData(data);
    const hash = await sha256(bytes);
    const change: Change = { data: bytes, signature: await signHash(step.key, hash) };
    if (previousKey) change.previousSignature = await signHash(previousKey, hash);
    changes.push(change);
    previousHash = hash;
    previousKey = step.key;
  }
  return changes;
}

async function keys(...algorithms: SignatureAlgorithm[]): Promise<SigningKey[]> {
  return await Promise.all(algorithms.map((a) => generateSigningKey(a)));
}

Deno.test("rotating twice (mixed algorithms) verifies", async () => {
  const [k0, k1, k2] = await keys("Ed25519", "ECDSA-P256", "Ed25519");
  const changes = await buildChanges([{ key: k0! }, { key: k1! }, { key: k2!, revoke: true }]);
  const identity = await importIdentity(encodeChangeHistory(changes));
  assert.equal(identity.changes.length, 3);
  assert.deepEqual(identity.primaryPublicKey.publicKey, k2!.publicKey);
  assert.equal(identity.latestChange.data.revokeAllPurposeKeys, true);
});

Deno.test("removing the middle change breaks the chain", async () => {
  const [k0, k1, k2] = await keys("Ed25519", "Ed25519", "Ed25519");
  const changes = await buildChanges([{ key: k0! }, { key: k1! }, { key: k2! }]);
  await assert.rejects(importIdentity(encodeChangeHistory([changes[0]!, changes[2]!])), {
    name: "TrustError",
    code: "broken-chain",
  });
});

Deno.test("removing the first change leaves a first change with a previous hash", async () => {
  const [k0, k1] = await keys("Ed25519", "Ed25519");
  const changes = await buildChanges([{ key: k0! }, { key: k1! }]);
  await assert.rejects(importIdentity(encodeChangeHistory([changes[1]!])), {
    name: "TrustError",
    code: "unexpected-previous-change",
  });
});

Deno.test("reordering changes is rejected", async () => {
  const [k0, k1, k2] = await keys("Ed25519", "Ed25519", "Ed25519");
  const changes = await buildChanges([{ key: k0! }, { key: k1! }, { key: k2! }]);
  await assert.rejects(
    importIdentity(encodeChangeHistory([changes[0]!, changes[2]!, changes[1]!])),
    {
      name: "TrustError",
    },
  );
  await assert.rejects(importIdentity(encodeChangeHistory([changes[1]!, changes[0]!])), {
    name: "TrustError",
    code: "unexpected-previous-change",
  });
});

Deno.test("a change re-signed with the wrong key is rejected", async () => {
  const [k0, k1, wrong] = await keys("Ed25519", "Ed25519", "Ed25519");
  const changes = await buildChanges([{ key: k0! }, { key: k1! }]);
  const hash = await sha256(changes[1]!.data);
  const badSelf = { ...changes[1]!, signature: await signHash(wrong!, hash) };
  await assert.rejects(importIdentity(encodeChangeHistory([changes[0]!, badSelf])), {
    name: "TrustError",
    code: "bad-signature",
  });
  const badPrevious = { ...changes[1]!, previousSignature: await signHash(wrong!, hash) };
  await assert.rejects(importIdentity(encodeChangeHistory([changes[0]!, badPrevious])), {
    name: "TrustError",
    code: "bad-previous-signature",
  });
  const { previousSignature: _, ...missing } = changes[1]!;
  await assert.rejects(importIdentity(encodeChangeHistory([changes[0]!, missing])), {
    name: "TrustError",
    code: "missing-previous-signature",
  });
});

Deno.test("a signature of the other algorithm is a signature-type-mismatch", async () => {
  const [k0, p256] = await keys("Ed25519", "ECDSA-P256");
  const [change] = await buildChanges([{ key: k0! }]);
  const forged = { ...change!, signature: await signHash(p256!, await sha256(change!.data)) };
  await assert.rejects(importIdentity(encodeChangeHistory([forged])), {
    name: "TrustError",
    code: "signature-type-mismatch",
  });
});

Deno.test("tampering with a change's data invalidates its signature", async () => {
  const [k0] = await keys("Ed25519");
  const [change] = await buildChanges([{ key: k0!, validFrom: 1_700_000_000 }]);
  const data = change!.data.slice();
  data[data.length - 1] = data[data.length - 1]! ^ 1; // attestations_valid_until
  await assert.rejects(importIdentity(encodeChangeHistory([{ ...change!, data }])), {
    name: "TrustError",
    code: "bad-signature",
  });
});

Deno.test("attestations_valid_from may not go backwards, but may pass valid_until", async () => {
  const [k0, k1] = await keys("Ed25519", "Ed25519");
  const back = await buildChanges([{ key: k0!, validFrom: 1_800_000_000 }, {
    key: k1!,
    validFrom: 1_700_000_000,
  }]);
  await assert.rejects(importIdentity(encodeChangeHistory(back)), {
    name: "TrustError",
    code: "validity-regression",
  });
  const later = await buildChanges([{ key: k0!, validFrom: 1_700_000_000 }, {
    key: k1!,
    validFrom: 2_100_000_000,
  }]);
  assert.equal((await importIdentity(encodeChangeHistory(later))).changes.length, 2);
});

Deno.test("a previous_signature on the first change is ignored", async () => {
  const [k0, other] = await keys("Ed25519", "Ed25519");
  const [change] = await buildChanges([{ key: k0! }]);
  const withPrevious = {
    ...change!,
    previousSignature: await signHash(other!, new Uint8Array(32)),
  };
  assert.equal((await importIdentity(encodeChangeHistory([withPrevious]))).changes.length, 1);
});

Deno.test("change timestamps are not checked against now", async () => {
  const [k0] = await keys("Ed25519");
  const changes = await buildChanges([{ key: k0!, validFrom: 4_000_000_000 }]);
  assert.equal((await importIdentity(encodeChangeHistory(changes))).changes.length, 1);
});

Deno.test("compareHistories follows Ockam's history comparison", async () => {
  const vault = new Vault();
  const local = await createIdentity(vault);
  const v1 = await importIdentity(local.changeHistory);
  await local.rotate();
  const v2 = local.identity;
  // Two independent rotations of the same history conflict.
  const [k0, k1, k2] = await keys("Ed25519", "Ed25519", "Ed25519");
  const base = await buildChanges([{ key: k0! }, { key: k1! }]);
  const hash = await sha256(base[0]!.data);
  assert(hash);
  const branchA = await importIdentity(encodeChangeHistory(base));
  const otherSecond = await buildChanges([{ key: k0! }, { key: k2! }]);
  // Same first change bytes (deterministic Ed25519), different second change.
  assert.deepEqual(otherSecond[0]!.data, base[0]!.data);
  const branchB = await importIdentity(encodeChangeHistory(otherSecond));
  assert.equal(branchA.identifier, branchB.identifier);
  assert.equal(compareHistories(v1, v1), "equal");
  assert.equal(compareHistories(v2, v1), "newer");
  assert.equal(compareHistories(v1, v2), "older");
  assert.equal(compareHistories(branchA, branchB), "conflict");
  assert.equal(compareHistories(v1, branchA), "conflict");
});

Deno.test("createIdentity and rotate produce verifiable histories that re-encode exactly", async () => {
  for (const algorithm of ["Ed25519", "ECDSA-P256"] as const) {
    const local = await createIdentity(new Vault(), { algorithm, clock: () => 1_700_000_000 });
    await local.rotate({ clock: () => 1_700_000_100, algorithm: "ECDSA-P256" });
    await local.rotate({ clock: () => 1_600_000_000, revokeAllPurposeKeys: true });
    const identity = await importIdentity(local.changeHistory);
    assert.equal(identity.identifier, local.identifier);
    assert.equal(identity.changes.length, 3);
    // A clock that went backwards is clamped so valid_from stays monotonic.
    assert.equal(identity.latestChange.data.attestationsValidFrom, 1_700_000_100);
    assert.deepEqual(
      encodeChangeHistory(decodeChangeHistory(local.changeHistory)),
      local.changeHistory,
    );
  }
});
