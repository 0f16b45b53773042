// Property tests over random protocols: pattern × psk placement × suite, random keys and
// payloads.
import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError } from "../errors.ts";
import { importKeyAgreementKey } from "../vault/mod.ts";
import { type HandshakeOptions, HandshakeState } from "./handshake_state.ts";
import { handshakePattern, PATTERN_NAMES } from "./patterns.ts";

const EMPTY = new Uint8Array(0);

interface Case {
  name: string;
  staticI: Uint8Array;
  staticR: Uint8Array;
  psks: Uint8Array[];
  payloads: Uint8Array[];
  prologue: Uint8Array;
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const arbitraryCase: fc.Arbitrary<Case> = fc
  .record({
    pattern: fc.constantFrom(...PATTERN_NAMES),
    pskMask: fc.nat(15),
    dh: fc.constantFrom("25519", "448"),
    cipher: fc.constantFrom("AESGCM", "ChaChaPoly"),
    hash: fc.constantFrom("SHA256", "SHA512", "BLAKE2s", "BLAKE2b"),
  })
  .chain(({ pattern, pskMask, dh, cipher, hash }) => {
    const messageCount = handshakePattern(pattern).messages.length;
    const positions = [0, 1, 2, 3, 4].filter((n) => n <= messageCount && (pskMask >> n) & 1);
    const modifiers = positions.map((n) => `psk${n}`).join("+");
    const keyLength = dh === "25519" ? 32 : 56;
    return fc.record({
      name: fc.constant(`Noise_${pattern}${modifiers}_${dh}_${cipher}_${hash}`),
      staticI: bytes(keyLength),
      staticR: bytes(keyLength),
      psks: fc.array(bytes(32), { minLength: positions.length, maxLength: positions.length }),
      payloads: fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 8, maxLength: 8 }),
      prologue: fc.uint8Array({ maxLength: 16 }),
    });
  });

async function sides(
  c: Case,
): Promise<[HandshakeState, HandshakeState, Uint8Array, Uint8Array]> {
  const pattern = handshakePattern(c.name.split("_")[1]!);
  const dh = c.name.includes("_448_") ? "X448" : "X25519";
  const pubI = (await importKeyAgreementKey(dh, c.staticI)).publicKey;
  const pubR = (await importKeyAgreementKey(dh, c.staticR)).publicKey;
  const common = { protocolName: c.name, prologue: c.prologue, psks: c.psks };
  const init: HandshakeOptions = { ...common, initiator: true, staticKey: c.staticI };
  const resp: HandshakeOptions = { ...common, initiator: false, staticKey: c.staticR };
  if (pattern.responderPreMessage.includes("s")) init.remoteStaticKey = pubR;
  if (pattern.initiatorPreMessage.includes("s")) resp.remoteStaticKey = pubI;
  return [await HandshakeState.create(init), await HandshakeState.create(resp), pubI, pubR];
}

// Whether message `index` ends with an encrypted (authenticated) payload: some DH or psk
// token came before it, or, in psk handshakes, an `e` (§9.2 MixKey(e.public_key)).
function isEncrypted(name: string, index: number): boolean {
  const pattern = handshakePattern(name.split("_")[1]!);
  const tokens = pattern.messages.slice(0, index + 1).flat();
  return tokens.some((t) => t !== "e" && t !== "s") ||
    (pattern.pskCount > 0 && tokens.includes("e"));
}

Deno.test("random protocols complete and transport messages round-trip both ways", async () => {
  await fc.assert(
    fc.asyncProperty(arbitraryCase, async (c) => {
      const [i, r, pubI, pubR] = await sides(c);
      let k = 0;
      while (!i.isComplete) {
        const [from, to] = i.isMyTurn ? [i, r] : [r, i];
        assert(!to.isMyTurn);
        const payload = c.payloads[k++]!;
        assert.deepEqual(await to.readMessage(await from.writeMessage(payload)), payload);
      }
      assert(r.isComplete, c.name);
      assert.deepEqual(i.handshakeHash, r.handshakeHash);
      const pattern = handshakePattern(c.name.split("_")[1]!);
      const all = pattern.messages.flat();
      const oneWay = pattern.oneWay;
      // Each side learns the other's static key exactly when the pattern conveys it.
      const initiatorSends = pattern.initiatorPreMessage.includes("s") ||
        pattern.messages.some((m, n) => (oneWay || n % 2 === 0) && m.includes("s"));
      const responderSends = pattern.responderPreMessage.includes("s") ||
        pattern.messages.some((m, n) => !oneWay && n % 2 === 1 && m.includes("s"));
      assert.deepEqual(r.remoteStaticKey, initiatorSends ? pubI : undefined);
      assert.deepEqual(i.remoteStaticKey, responderSends ? pubR : undefined);
      assert(all.length > 0);
      const [i1, i2] = await i.split();
      const [r1, r2] = await r.split();
      for (const payload of c.payloads.slice(4)) {
        assert.deepEqual(
          await r1.decryptWithAd(EMPTY, await i1.encryptWithAd(EMPTY, payload)),
          payload,
        );
        if (!oneWay) {
          assert.deepEqual(
            await i2.decryptWithAd(payload, await r2.encryptWithAd(payload, payload)),
            payload,
          );
        }
      }
    }),
    { numRuns: 40 },
  );
});

Deno.test("any single-byte change to an authenticated handshake message is rejected and fails the reader", async () => {
  await fc.assert(
    fc.asyncProperty(
      arbitraryCase,
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      async (c, pick, position, mask) => {
        const [i, r] = await sides(c);
        const count = handshakePattern(c.name.split("_")[1]!).messages.length;
        const candidates = [...Array(count).keys()].filter((n) => isEncrypted(c.name, n));
        if (candidates.length === 0) return; // e.g. NN has none in message 1 but has in 2
        const target = candidates[pick % candidates.length]!;
        for (let n = 0;; n++) {
          const [from, to] = i.isMyTurn ? [i, r] : [r, i];
          const message = await from.writeMessage(c.payloads[n]!);
          if (n < target) {
            await to.readMessage(message);
            continue;
          }
          const tampered = message.slice();
          tampered[position % tampered.length]! ^= mask;
          await assert.rejects(to.readMessage(tampered), HandshakeError);
          assert(to.isFailed);
          await assert.rejects(to.readMessage(message), { name: "HandshakeError", code: "failed" });
          await assert.rejects(to.writeMessage(EMPTY), { code: "failed" });
          return;
        }
      },
    ),
    { numRuns: 40 },
  );
});
