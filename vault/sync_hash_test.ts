import assert from "node:assert/strict";
import { digest, hkdf, hmac } from "./hash.ts";
import { loadSyncHash } from "./sync_hash.ts";

Deno.test("loadSyncHash agrees with digest, hmac and hkdf for every hash", async () => {
  const data = crypto.getRandomValues(new Uint8Array(200));
  const key = crypto.getRandomValues(new Uint8Array(40));
  for (const name of ["SHA256", "SHA512", "BLAKE2s", "BLAKE2b"] as const) {
    const h = await loadSyncHash(name);
    assert.equal(h.name, name);
    assert.deepEqual(h.digest(data), await digest(name, data));
    assert.deepEqual(h.digest(data.subarray(0, 7), data.subarray(7)), await digest(name, data));
    assert.deepEqual(h.hmac(key, data), await hmac(name, key, data));
    assert.deepEqual(
      h.hkdf(key, data, 3 * h.length),
      await hkdf(name, { salt: key, ikm: data, length: 3 * h.length }),
    );
    assert.throws(() => h.hkdf(key, data, 0), { code: "bad-length" });
  }
});

Deno.test("loadSyncHash rejects an unknown hash", () => {
  assert.throws(() => loadSyncHash("MD5" as unknown as "SHA256"), {
    name: "VaultError",
    code: "unknown-algorithm",
  });
});
