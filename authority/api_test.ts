import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import {
  decodeApiError,
  decodeRequest,
  decodeResponse,
  encodeApiError,
  encodeRequest,
  encodeResponse,
} from "./api.ts";
import {
  decodeCreateToken,
  decodeOneTimeCode,
  decodeTicket,
  encodeCreateToken,
  encodeOneTimeCode,
  encodeTicket,
} from "./messages.ts";

// Bytes as Ockam's minicbor derive writes them (authority/WIRE.md): a map with uint keys in
// field order, `None` fields left out, then the body; the whole a BARE byte string.
Deno.test("RequestHeader bytes: POST / with a OneTimeCode body", () => {
  const code = new Uint8Array(32).fill(0x11);
  const bytes = encodeRequest({ id: 7, path: "/", method: "POST" }, encodeOneTimeCode(code));
  const header = "a4" + "0107" + "02612f" + "0301" + "04f5";
  const body = "a1" + "01" + "5820" + "11".repeat(32);
  assert.equal(toHex(bytes), (header.length / 2 + body.length / 2).toString(16) + header + body);
  const { header: decoded, body: raw } = decodeRequest(bytes);
  assert.deepEqual(decoded, { id: 7, path: "/", method: "POST", hasBody: true });
  assert.deepEqual(decodeOneTimeCode(raw!), code);
});

Deno.test("ResponseHeader bytes: 403 with an api::Error body", () => {
  const error = { path: "/", method: "POST" as const, message: "Unknown enrollment token" };
  const bytes = encodeResponse({ id: 1, re: 7, status: 403 }, encodeApiError(error));
  // BARE length, then {1: 1, 2: 7, 3: 403, 4: true}, then {1: "/", 2: 1, 3: "…"}.
  assert(toHex(bytes).slice(2).startsWith("a4010102070319019304f5" + "a301612f0201"));
  const { header, body } = decodeResponse(bytes);
  assert.deepEqual(header, { id: 1, re: 7, status: 403, hasBody: true });
  assert.deepEqual(decodeApiError(body!), error);
});

Deno.test("decoders refuse what Ockam's would not write", () => {
  const cases: [string, string][] = [
    ["09a3010102612f04f4", "truncated"], // BARE length past the end
    ["07a3010102612f04f4", "trailing-bytes"], // bytes after the BARE string
    ["06a3010102612f", "truncated"], // a map of 3 with 2 entries
    ["08a3010102612f0401", "unexpected-type"], // has_body not a bool
    ["07a30101010104f4", "duplicate-key"],
    ["06a2010102612f", "unexpected-type"], // no has_body
    ["09a3010102612f04f4a0", "trailing-bytes"], // a body, but has_body false
    ["08a3010102612f04f5", "truncated"], // has_body true, no body
    ["07a30101020104f4", "unexpected-type"], // path not text
  ];
  for (const [hex, code] of cases) {
    assert.throws(() => decodeRequest(fromHex(hex)), { name: "DecodeError", code }, hex);
  }
  assert.throws(() => decodeRequest(fromHex("09a3010102612f04f5ff")), { name: "DecodeError" });
  // An unknown method index decodes with no method (Ockam: `None`), answered "unknown path".
  assert.equal(decodeRequest(fromHex("0aa4010102612f030904f4")).header.method, undefined);
});

Deno.test("CreateToken and OneTimeCode bytes", () => {
  const bytes = encodeCreateToken({ attributes: { role: "sensor" }, ttlSecs: 600 });
  assert.equal(toHex(bytes), "a2" + "01a164726f6c656673656e736f72" + "02190258");
  assert.deepEqual(decodeCreateToken(bytes), { attributes: { role: "sensor" }, ttlSecs: 600 });
  assert.throws(() => decodeCreateToken(fromHex("a101a2617861796178617a")), {
    code: "duplicate-key",
  });
  assert.throws(() => decodeOneTimeCode(fromHex("a10141aa")), { code: "bad-length" });
});

Deno.test("tickets round-trip and refuse other versions and sizes", () => {
  const ticket = {
    code: new Uint8Array(32).fill(3),
    authority: fromHex("8182"),
    expiresAt: 1_700_000_000,
    address: "127.0.0.1:4002",
  };
  assert.deepEqual(decodeTicket(encodeTicket(ticket)), ticket);
  assert.deepEqual(decodeTicket(` ${encodeTicket(ticket).toUpperCase()}\n`), ticket);
  const v2 = toHex(fromHex(encodeTicket(ticket)).map((b, i) => i === 1 ? 2 : b));
  assert.throws(() => decodeTicket(v2), { code: "unknown-version" });
  assert.throws(() => decodeTicket("abc"), { code: "bad-ticket" });
  assert.throws(() => decodeTicket("ab".repeat(40_000)), { code: "too-long" });
});
