/**
 * The identity module's Deno adapter: a file identity store, so a device keeps its
 * identity across restarts (use it with the vault's `FileKeyStore` for the keys).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileIdentityStore } from "@sealroute/sealroute/identity/deno";
 * const store = new FileIdentityStore(await Deno.makeTempDir());
 * assert.equal(await store.get("missing"), undefined);
 * ```
 *
 * @module
 */
export * from "./file_identity_store.ts";
