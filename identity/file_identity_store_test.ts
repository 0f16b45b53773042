import assert from "node:assert/strict";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";
import { FileIdentityStore } from "./file_identity_store.ts";
import { loadOrCreateIdentity } from "./local_identity.ts";

Deno.test("file identity store writes 0600 files atomically and reads them back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new FileIdentityStore(`${dir}/ids`);
    const me = await loadOrCreateIdentity({
      vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
      store,
      name: "device-1",
    });
    await me.secureChannelKey();
    const info = await Deno.stat(`${dir}/ids/device-1.identity.json`);
    if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o600);
    const entries = [...Deno.readDirSync(`${dir}/ids`)].map((e) => e.name);
    assert.deepEqual(entries, ["device-1.identity.json"]);
    const record = await store.get("device-1");
    assert.deepEqual(record?.changeHistory, me.changeHistory);
    assert.equal(record?.secureChannelKey?.keyId, (await me.secureChannelKey()).keyId);
    assert.equal(await store.get("missing"), undefined);
    assert.equal(await store.delete("device-1"), true);
    assert.equal(await store.delete("device-1"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("corrupted identity files are DecodeErrors; bad names TypeErrors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new FileIdentityStore(dir);
    for (
      const body of [
        "{",
        "[]",
        '{"version":1}',
        '{"version":1,"changeHistory":"zz","primaryKeyId":"a","credentials":[]}',
      ]
    ) {
      await Deno.writeTextFile(`${dir}/x.identity.json`, body);
      await assert.rejects(store.get("x"), { name: "DecodeError", code: "corrupt-identity" });
    }
    await assert.rejects(store.get("../etc"), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
