import assert from "node:assert/strict";
import { pickBackend, webCryptoSupports } from "./backend.ts";

Deno.test("noble stays unloaded for X25519, Ed25519, AES-GCM and HKDF-SHA256, and loads for ChaCha20 (fresh process)", async () => {
  const script = new URL("./testdata/lazy_noble_script.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const report = JSON.parse(new TextDecoder().decode(stdout).trim());
  assert.deepEqual(report, { afterWebCrypto: false, afterChaCha: true, verified: true, opened: 4 });
});

Deno.test("Deno's WebCrypto has X25519, X448 and Ed25519, so the vault picks WebCrypto", async () => {
  for (const algorithm of ["X25519", "X448", "Ed25519"] as const) {
    assert.equal(await webCryptoSupports(algorithm), true);
    assert.equal(await pickBackend(algorithm), "webcrypto");
    assert.equal(await pickBackend(algorithm, { backend: "noble" }), "noble");
  }
  assert.equal(await pickBackend("ECDSA-P256"), "webcrypto");
});
