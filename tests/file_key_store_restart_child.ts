// Child process for tests/file_key_store_restart_test.ts. Each run is a separate process:
//   create <dir>          creates a persisted Ed25519 key, prints {"id", "publicKey"}
//   sign <dir> <id> <hex> loads key <id> from disk, prints {"publicKey", "signature"} over <hex>
import { fromHex, toHex } from "../_bytes.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";

const [command, dir, id, message] = Deno.args;
if (!dir) throw new TypeError("usage: create <dir> | sign <dir> <id> <hex>");
const vault = new Vault({ store: new FileKeyStore(dir) });
let out: Record<string, string>;
if (command === "create") {
  const { id, key } = await vault.createSigningKey("Ed25519", { persist: true });
  out = { id, publicKey: toHex(key.publicKey) };
} else if (command === "sign" && id && message !== undefined) {
  const key = await vault.signingKey(id);
  out = { publicKey: toHex(key.publicKey), signature: toHex(await key.sign(fromHex(message))) };
} else {
  throw new TypeError(`unknown command '${command}'`);
}
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(out) + "\n"));
