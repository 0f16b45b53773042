// AES-256-GCM from `node:crypto`, synchronous: fast for small messages in Deno, slower than
// pipelined WebCrypto in bulk, so messages past `maxSyncBytes` go to WebCrypto.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import type { NativeAead, NativeAeadContext } from "./native_aead.ts";

/** Above this size WebCrypto (pipelined) beats node:crypto in Deno (bench/RESULTS.md). */
const NODE_MAX_SYNC_BYTES = 16 * 1024;

class NodeKey implements NativeAeadContext {
  readonly #key: KeyObject;

  constructor(raw: Uint8Array) {
    this.#key = createSecretKey(raw);
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    if (ad.length) cipher.setAAD(ad);
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(head.length + tail.length + 16);
    out.set(head);
    out.set(tail, head.length);
    out.set(cipher.getAuthTag(), head.length + tail.length);
    return out;
  }

  open(nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
    const length = ciphertext.length - 16;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
      if (ad.length) decipher.setAAD(ad);
      decipher.setAuthTag(ciphertext.subarray(length));
      const head = decipher.update(ciphertext.subarray(0, length));
      const tail = decipher.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head);
      out.set(tail, head.length);
      return out;
    } catch {
      return undefined;
    }
  }

  toString(): string {
    return "NativeAeadContext(node:crypto)";
  }
}

/** `node:crypto`'s AES-256-GCM, synchronous up to 16 KiB per message. */
export function nodeCryptoAead(): NativeAead {
  return { name: "node:crypto", maxSyncBytes: NODE_MAX_SYNC_BYTES, key: (raw) => new NodeKey(raw) };
}
