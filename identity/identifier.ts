/**
 * Identifiers: the SHA-256 change hash of an identity's first change (OCKAM_WIRE §4.2),
 * written `"I"` + 64 lowercase hex characters.
 *
 * @module
 */
import { fromHex, toHex } from "../_bytes.ts";
import { DecodeError } from "../errors.ts";

/** Length in bytes of an identifier and of a change hash. */
export const IDENTIFIER_LENGTH = 32;

const TEXT = /^I[0-9a-f]{64}$/;

/**
 * The text form of a 32-byte identifier: `"I"` + lowercase hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIdentifier } from "@sealroute/sealroute/identity";
 * assert.equal(formatIdentifier(new Uint8Array(32)), "I" + "00".repeat(32));
 * ```
 */
export function formatIdentifier(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== IDENTIFIER_LENGTH) {
    throw new TypeError(`an identifier is ${IDENTIFIER_LENGTH} bytes`);
  }
  return "I" + toHex(bytes);
}

/**
 * The 32 bytes of an identifier's text form; anything but `"I"` + 64 lowercase hex
 * characters is a `DecodeError` with code `bad-identifier`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIdentifier } from "@sealroute/sealroute/identity";
 * const id = "I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819";
 * assert.equal(parseIdentifier(id)[0], 0x92);
 * assert.throws(() => parseIdentifier("I1234"), { code: "bad-identifier" });
 * ```
 */
export function parseIdentifier(text: string): Uint8Array {
  if (!isIdentifier(text)) {
    throw new DecodeError(
      "bad-identifier",
      `expected "I" and 64 lowercase hex characters, got ${describe(text)}`,
    );
  }
  return fromHex(text.slice(1));
}

function describe(text: unknown): string {
  return typeof text === "string" ? `${text.length} characters` : typeof text;
}

/**
 * Whether `text` is an identifier's text form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIdentifier } from "@sealroute/sealroute/identity";
 * assert(isIdentifier("I" + "ab".repeat(32)));
 * assert(!isIdentifier("I" + "AB".repeat(32)));
 * ```
 */
export function isIdentifier(text: unknown): text is string {
  return typeof text === "string" && TEXT.test(text);
}
