import assert from "node:assert/strict";
import { toHex } from "../_bytes.ts";
import {
  CHANNEL_SECRET,
  MAX_CHANNEL_SECRET_LENGTH,
  Vault,
  VaultError,
  verifySignature,
} from "./mod.ts";
import { FileKeyStore } from "./deno.ts";

const isCode = (code: string) => (e: unknown): boolean =>
  e instanceof VaultError && e.code === code;
const data = new TextEncoder().encode("persist me");

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sealroute_fks_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("FileKeyStore writes each key as <id>.key with mode 0600 and leaves no temp file", async () => {
  await withDir(async (dir) => {
    const store = new FileKeyStore(`${dir}/keys`);
    const vault = new Vault({ store });
    const ids = [
      (await vault.createSigningKey("Ed25519", { persist: true })).id,
      (await vault.createSigningKey("ECDSA-P256", { persist: true })).id,
      (await vault.createKeyAgreementKey("X25519", { persist: true })).id,
      (await vault.createKeyAgreementKey("X448", { persist: true })).id,
    ];
    // Overwriting an id also goes through a temp file and must not leave it behind.
    await store.set(ids[0]!, (await store.get(ids[0]!))!);
    assert.deepEqual(await names(`${dir}/keys`), ids.map((id) => `${id}.key`).sort());
    for (const id of ids) {
      assert.equal((await Deno.stat(`${dir}/keys/${id}.key`)).mode! & 0o777, 0o600, id);
    }
    assert.equal((await Deno.stat(`${dir}/keys`)).mode! & 0o077, 0, "directory is private");
  });
});

Deno.test("FileKeyStore round-trips every algorithm and returns undefined for a missing id", async () => {
  await withDir(async (dir) => {
    const store = new FileKeyStore(dir);
    for (
      const [algorithm, length] of [["Ed25519", 32], ["ECDSA-P256", 32], ["X25519", 32], [
        "X448",
        56,
      ]] as const
    ) {
      const privateKey = crypto.getRandomValues(new Uint8Array(length));
      await store.set(`k-${algorithm}`, { algorithm, privateKey });
      const back = await store.get(`k-${algorithm}`);
      assert.equal(back?.algorithm, algorithm);
      assert.equal(toHex(back!.privateKey), toHex(privateKey));
    }
    assert.equal(await store.get("missing"), undefined);
    assert.equal(await store.delete("k-X448"), true);
    assert.equal(await store.delete("k-X448"), false);
    assert.equal(await store.get("k-X448"), undefined);
  });
});

Deno.test("FileKeyStore reports garbage and truncated files as VaultError corrupt-key; other keys stay readable", async () => {
  await withDir(async (dir) => {
    const store = new FileKeyStore(dir);
    const vault = new Vault({ store });
    const good = await vault.createSigningKey("Ed25519", { persist: true });
    const victim = await vault.createSigningKey("Ed25519", { persist: true });
    const path = `${dir}/${victim.id}.key`;
    const original = await Deno.readFile(path);
    const corruptions: [string, Uint8Array][] = [
      ["garbage", crypto.getRandomValues(new Uint8Array(80))],
      ["empty", new Uint8Array()],
      ["truncated", original.subarray(0, original.length - 5)],
      ["cut mid-key", original.subarray(0, 40)],
      ["short key", new TextEncoder().encode('{"algorithm":"Ed25519","privateKey":"abcd"}')],
      ["odd hex", new TextEncoder().encode('{"algorithm":"Ed25519","privateKey":"abc"}')],
      [
        "unknown algorithm",
        new TextEncoder().encode(`{"algorithm":"RSA","privateKey":"${"00".repeat(32)}"}`),
      ],
      [
        "prototype name",
        new TextEncoder().encode(`{"algorithm":"toString","privateKey":"${"00".repeat(32)}"}`),
      ],
      ["not an object", new TextEncoder().encode("[]")],
    ];
    for (const [label, bytes] of corruptions) {
      await Deno.writeFile(path, bytes);
      await assert.rejects(store.get(victim.id), isCode("corrupt-key"), label);
      // A fresh vault (nothing cached) sees the same error ...
      await assert.rejects(
        new Vault({ store }).signingKey(victim.id),
        isCode("corrupt-key"),
        label,
      );
      // ... and still loads the other key.
      const other = await new Vault({ store }).signingKey(good.id);
      assert.equal(
        await verifySignature("Ed25519", good.key.publicKey, data, await other.sign(data)),
        true,
      );
    }
  });
});

Deno.test("FileKeyStore rejects ids that could escape the directory with VaultError bad-key-id", async () => {
  await withDir(async (dir) => {
    const store = new FileKeyStore(`${dir}/store`);
    const key = { algorithm: "Ed25519" as const, privateKey: new Uint8Array(32) };
    for (
      const id of ["../x", "..", "a/b", "/etc/passwd", "", "a.key", "x\0y", "a".repeat(129), "é"]
    ) {
      await assert.rejects(store.set(id, key), isCode("bad-key-id"), JSON.stringify(id));
      await assert.rejects(store.get(id), isCode("bad-key-id"), JSON.stringify(id));
      await assert.rejects(store.delete(id), isCode("bad-key-id"), JSON.stringify(id));
    }
    assert.deepEqual(await names(dir), [], "nothing was written anywhere");
  });
});

Deno.test("FileKeyStore keys survive a new store and vault over the same directory", async () => {
  await withDir(async (dir) => {
    const { id, key } = await new Vault({ store: new FileKeyStore(dir) }).createSigningKey(
      "ECDSA-P256",
      {
        persist: true,
      },
    );
    const reloaded = await new Vault({ store: new FileKeyStore(dir) }).signingKey(id);
    assert.equal(toHex(reloaded.publicKey), toHex(key.publicKey));
    assert.equal(
      await verifySignature("ECDSA-P256", key.publicKey, data, await reloaded.sign(data)),
      true,
    );
  });
});

Deno.test("FileKeyStore files never hold a key that was not persisted", async () => {
  await withDir(async (dir) => {
    const vault = new Vault({ store: new FileKeyStore(dir) });
    await vault.createSigningKey("Ed25519");
    await vault.createKeyAgreementKey("X25519");
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("FileKeyStore keeps a channel secret (any length up to 64 KiB, 0600) that the vault never loads as a key", async () => {
  await withDir(async (dir) => {
    const store = new FileKeyStore(`${dir}/keys`);
    const secret = crypto.getRandomValues(new Uint8Array(300));
    await store.set("chan", { algorithm: CHANNEL_SECRET, privateKey: secret });
    assert.equal((await Deno.stat(`${dir}/keys/chan.key`)).mode! & 0o777, 0o600);
    const back = await store.get("chan");
    assert.equal(back?.algorithm, CHANNEL_SECRET);
    assert.deepEqual(back?.privateKey, secret);
    await assert.rejects(new Vault({ store }).signingKey("chan"), isCode("wrong-key-kind"));
    for (const bad of [new Uint8Array(0), new Uint8Array(MAX_CHANNEL_SECRET_LENGTH + 1)]) {
      await assert.rejects(
        store.set("bad", { algorithm: CHANNEL_SECRET, privateKey: bad }),
        isCode("bad-key-length"),
      );
    }
    await Deno.writeTextFile(
      `${dir}/keys/chan.key`,
      JSON.stringify({ algorithm: CHANNEL_SECRET, privateKey: "" }),
    );
    await assert.rejects(store.get("chan"), isCode("corrupt-key"));
  });
});
