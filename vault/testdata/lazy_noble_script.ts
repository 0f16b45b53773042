// Spawned by vault/backend_test.ts in a fresh process: the WebCrypto-only operations must
// not load the noble fallback; ChaCha20-Poly1305 must. Prints one JSON line.
import {
  generateKeyAgreementKey,
  generateSigningKey,
  hkdf,
  importAeadKey,
  isNobleLoaded,
  verifySignature,
} from "../mod.ts";

const data = new TextEncoder().encode("lazy");
const a = await generateKeyAgreementKey("X25519");
const b = await generateKeyAgreementKey("X25519");
const shared = await a.deriveSharedSecret(b.publicKey);
const signer = await generateSigningKey("Ed25519");
const verified = await verifySignature("Ed25519", signer.publicKey, data, await signer.sign(data));
const key = await hkdf("SHA256", { salt: new Uint8Array(32), ikm: shared, length: 32 });
const aes = await importAeadKey("AES-256-GCM", key);
const nonce = new Uint8Array(12);
const opened = await aes.open(nonce, await aes.seal(nonce, data));
const afterWebCrypto = isNobleLoaded();

const chacha = await importAeadKey("ChaCha20-Poly1305", key);
await chacha.open(nonce, await chacha.seal(nonce, data));
const afterChaCha = isNobleLoaded();

const report = { afterWebCrypto, afterChaCha, verified, opened: opened.length };
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(report) + "\n"));
