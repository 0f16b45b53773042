// AES-256-GCM from the system's OpenSSL (libcrypto 3) through Deno's FFI: EVP contexts made
// once per key (the key schedule lives in OpenSSL's memory, not in JavaScript), a new IV per
// call. Needs `--allow-ffi`; `openSslAead()` is `undefined` where it cannot load.
import type { NativeAead, NativeAeadContext } from "./native_aead.ts";

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

const CTRL_GCM_GET_TAG = 0x10;
const CTRL_GCM_SET_TAG = 0x11;
const LIBRARIES = ["libcrypto.so.3", "libcrypto.so", "libcrypto.3.dylib", "libcrypto.dylib"];

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: { lib: Lib; cipher: Deno.PointerValue } | null | undefined;

function load(): { lib: Lib; cipher: Deno.PointerValue } | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  for (const name of LIBRARIES) {
    try {
      const lib = Deno.dlopen(name, SYMBOLS).symbols;
      const cipher = lib.EVP_aes_256_gcm();
      if (cipher) loaded = { lib, cipher };
      break;
    } catch { /* try the next name */ }
  }
  return loaded;
}

/** Frees a key's two EVP contexts once the key is garbage. */
const contexts = new FinalizationRegistry<
  { lib: Lib; enc: Deno.PointerValue; dec: Deno.PointerValue }
>(
  ({ lib, enc, dec }) => {
    lib.EVP_CIPHER_CTX_free(enc);
    lib.EVP_CIPHER_CTX_free(dec);
  },
);

class OpenSslKey implements NativeAeadContext {
  readonly #lib: Lib;
  readonly #enc: Deno.PointerValue;
  readonly #dec: Deno.PointerValue;
  readonly #outLength = new Int32Array(1);
  readonly #tag = new Uint8Array(16);

  constructor(lib: Lib, cipher: Deno.PointerValue, raw: Uint8Array) {
    this.#lib = lib;
    const enc = lib.EVP_CIPHER_CTX_new();
    const dec = lib.EVP_CIPHER_CTX_new();
    if (!enc || !dec) throw new Error("EVP_CIPHER_CTX_new failed");
    this.#enc = enc;
    this.#dec = dec;
    contexts.register(this, { lib, enc, dec });
    if (
      lib.EVP_EncryptInit_ex(enc, cipher, null, raw, null) !== 1 ||
      lib.EVP_DecryptInit_ex(dec, cipher, null, raw, null) !== 1
    ) {
      throw new Error("EVP key setup failed");
    }
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
    const lib = this.#lib;
    const ctx = this.#enc;
    const out = new Uint8Array(plaintext.length + 16);
    const n = this.#outLength;
    let ok = lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce) === 1;
    if (ok && ad.length) ok = lib.EVP_EncryptUpdate(ctx, null, n, ad, ad.length) === 1;
    if (ok && plaintext.length) {
      ok = lib.EVP_EncryptUpdate(ctx, out, n, plaintext, plaintext.length) === 1;
    }
    ok &&= lib.EVP_EncryptFinal_ex(ctx, out.subarray(plaintext.length), n) === 1;
    ok &&= lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_GCM_GET_TAG, 16, this.#tag) === 1;
    if (!ok) throw new Error("EVP encryption failed");
    out.set(this.#tag, plaintext.length);
    return out;
  }

  open(nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
    const lib = this.#lib;
    const ctx = this.#dec;
    const length = ciphertext.length - 16;
    const out = new Uint8Array(length);
    const n = this.#outLength;
    this.#tag.set(ciphertext.subarray(length));
    let ok = lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce) === 1;
    if (ok && ad.length) ok = lib.EVP_DecryptUpdate(ctx, null, n, ad, ad.length) === 1;
    if (ok && length) {
      ok = lib.EVP_DecryptUpdate(ctx, out, n, ciphertext.subarray(0, length), length) === 1;
    }
    ok &&= lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_GCM_SET_TAG, 16, this.#tag) === 1;
    // Final checks the tag; nothing is returned unless it matches.
    ok &&= lib.EVP_DecryptFinal_ex(ctx, out.subarray(length), n) === 1;
    return ok ? out : undefined;
  }

  toString(): string {
    return "NativeAeadContext(openssl-ffi)";
  }
}

/** OpenSSL's AES-256-GCM through FFI, or `undefined` without `--allow-ffi` or libcrypto. */
export function openSslAead(): NativeAead | undefined {
  const l = load();
  if (!l) return undefined;
  return { name: "openssl-ffi", key: (raw) => new OpenSslKey(l.lib, l.cipher, raw) };
}
