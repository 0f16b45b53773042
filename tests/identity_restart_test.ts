import assert from "node:assert/strict";
import { fromHex } from "../_bytes.ts";
import { verifySecureChannelPeer } from "../identity/mod.ts";

const CHILD = new URL("./identity_restart_child.ts", import.meta.url).pathname;

interface ChildReport {
  identifier: string;
  primaryKeyId: string;
  changeHistory: string;
  secureChannelKeyId: string;
  secureChannelPublicKey: string;
  attestation: string;
}

async function run(dir: string): Promise<ChildReport> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert(output.success, `child failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim()) as ChildReport;
}

Deno.test("a device keeps its identity and keys across a real process restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await run(dir);
    const second = await run(dir);
    assert.equal(second.identifier, first.identifier);
    assert.equal(second.primaryKeyId, first.primaryKeyId);
    assert.equal(second.changeHistory, first.changeHistory);
    assert.equal(second.secureChannelKeyId, first.secureChannelKeyId);
    assert.equal(second.secureChannelPublicKey, first.secureChannelPublicKey);
    // The second process's attestation (made with the reloaded primary key) verifies.
    for (const report of [first, second]) {
      const peer = await verifySecureChannelPeer({
        changeHistory: fromHex(report.changeHistory),
        attestation: fromHex(report.attestation),
        remoteStaticKey: fromHex(report.secureChannelPublicKey),
      });
      assert.equal(peer.identifier, first.identifier);
    }
    const files = [...Deno.readDirSync(`${dir}/keys`)].map((e) => e.name);
    assert.equal(files.length, 2); // primary + secure-channel key
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
