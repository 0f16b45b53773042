// A persisted key must survive a real process restart: one Deno process creates it, a
// second one (sharing nothing but the directory) loads it and signs.
import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { verifySignature } from "../vault/mod.ts";

const child = new URL("./file_key_store_restart_child.ts", import.meta.url).pathname;

async function run(...args: string[]): Promise<Record<string, string>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", child, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("an Ed25519 key persisted by one process signs in the next, verified against the first public key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sealroute_restart_" });
  try {
    const created = await run("create", dir);
    assert.match(created.id!, /^[0-9a-f]{32}$/);
    assert.equal(fromHex(created.publicKey!).length, 32);

    const message = crypto.getRandomValues(new Uint8Array(48));
    const signed = await run("sign", dir, created.id!, toHex(message));
    assert.equal(signed.publicKey, created.publicKey);
    assert.equal(
      await verifySignature(
        "Ed25519",
        fromHex(created.publicKey!),
        message,
        fromHex(signed.signature!),
      ),
      true,
    );
    // The signature is over this message and no other.
    message[0]! ^= 1;
    assert.equal(
      await verifySignature(
        "Ed25519",
        fromHex(created.publicKey!),
        message,
        fromHex(signed.signature!),
      ),
      false,
    );
    // Exactly one key file, private to the user, and no temp files.
    const entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
    assert.deepEqual(entries, [`${created.id}.key`]);
    assert.equal((await Deno.stat(`${dir}/${created.id}.key`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
