// The main job, until the relay demo lands: the vault end to end.
import { generateSigningKey, importAeadKey, verifySignature } from "../vault/mod.ts";
import { toHex } from "../_bytes.ts";

const identityKey = await generateSigningKey("Ed25519");
console.log(`identity key (Ed25519) public: ${toHex(identityKey.publicKey)}`);
const message = new TextEncoder().encode("temperature=21.5C");
const signature = await identityKey.sign(message);
console.log(`signed ${message.length} bytes -> ${signature.length}-byte signature`);
if (!await verifySignature("Ed25519", identityKey.publicKey, message, signature)) {
  throw new Error("signature did not verify");
}
console.log("signature verified");
const key = await importAeadKey("AES-256-GCM", crypto.getRandomValues(new Uint8Array(32)));
const nonce = crypto.getRandomValues(new Uint8Array(12));
const sealed = await key.seal(nonce, message);
const opened = await key.open(nonce, sealed);
console.log(`sealed to ${sealed.length} bytes, opened: ${new TextDecoder().decode(opened)}`);
