/**
 * Sealroute: end-to-end encrypted, mutually authenticated messaging between devices, edge
 * functions and services, with Ockam-compatible wire formats.
 *
 * This entry point re-exports the portable modules. Runtime adapters have their own
 * exports: `@sealroute/sealroute/vault/deno`, `@sealroute/sealroute/transport/deno`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSigningKey, verifySignature } from "@sealroute/sealroute";
 * const key = await generateSigningKey("ECDSA-P256");
 * const data = new Uint8Array([1, 2, 3]);
 * assert(await verifySignature("ECDSA-P256", key.publicKey, data, await key.sign(data)));
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./vault/mod.ts";
export * from "./routing/mod.ts";
export * from "./transport/mod.ts";
export * from "./channel/mod.ts";
export * from "./delivery/mod.ts";
export * from "./authority/mod.ts";
export * from "./portal/mod.ts";
