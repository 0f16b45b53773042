import assert from "node:assert/strict";
import { HandshakeError } from "../errors.ts";
import { OCKAM_XX_PROTOCOL_NAME, parseProtocolName } from "./suite.ts";

Deno.test("parses every DH, cipher and hash of §12", () => {
  for (const dh of ["25519", "448"]) {
    for (const cipher of ["AESGCM", "ChaChaPoly"]) {
      for (const hash of ["SHA256", "SHA512", "BLAKE2s", "BLAKE2b"]) {
        const p = parseProtocolName(`Noise_XXpsk3_${dh}_${cipher}_${hash}`);
        assert.deepEqual([p.dh, p.cipher, p.hash, p.pattern.name], [dh, cipher, hash, "XXpsk3"]);
        assert(!p.reversedSplit);
      }
    }
  }
});

Deno.test("the OCKAM profile is XX/25519/AESGCM/SHA256 with a reversed split", () => {
  const p = parseProtocolName(OCKAM_XX_PROTOCOL_NAME);
  assert.deepEqual([p.dh, p.cipher, p.hash, p.pattern.name, p.reversedSplit], [
    "25519",
    "AESGCM",
    "SHA256",
    "XX",
    true,
  ]);
  assert.equal(p.name, OCKAM_XX_PROTOCOL_NAME);
});

Deno.test("unknown names are typed errors", () => {
  const cases: [string, string][] = [
    ["Noise_XX_25519_AESGCM_SHA256_extra", "unknown-protocol"],
    ["OCKAM_XX_25519_AES128_GCM_SHA256", "unknown-protocol"],
    ["Noise_ZZ_25519_AESGCM_SHA256", "unknown-pattern"],
    ["Noise_XX_25518_AESGCM_SHA256", "unknown-function"],
    ["Noise_XX_25519_AESGCM_MD5", "unknown-function"],
  ];
  for (const [name, code] of cases) {
    assert.throws(() => parseProtocolName(name), (e: unknown) => {
      assert(e instanceof HandshakeError && e.code === code, `${name}: ${e}`);
      return true;
    });
  }
});
