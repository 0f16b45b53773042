// Hash functions on @noble/hashes, loaded lazily by backend.ts: BLAKE2 (absent from
// WebCrypto), and the synchronous SHA-2 the Noise handshake mixes with (sync_hash.ts).
export { blake2b, blake2s } from "@noble/hashes/blake2.js";
export { sha256, sha512 } from "@noble/hashes/sha2.js";
export { hmac } from "@noble/hashes/hmac.js";
export { hkdf } from "@noble/hashes/hkdf.js";
