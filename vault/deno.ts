/**
 * The vault's Deno adapter: a file key store for keys that must survive restarts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileKeyStore } from "@sealroute/sealroute/vault/deno";
 * const store = new FileKeyStore(await Deno.makeTempDir());
 * assert(await store.get("missing") === undefined);
 * ```
 *
 * @module
 */
export * from "./file_key_store.ts";
