// An end on native curves (node:crypto X25519 and Ed25519) against an end on the portable
// WebCrypto path: the Ockam XX handshake gives the same bytes on the wire whichever side is
// native, and identity signatures made on one path verify on the other.
import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { HandshakeState } from "../channel/handshake_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "../channel/suite.ts";
import {
  createIdentity,
  encodeIdentityAndCredentials,
  type LocalIdentity,
  verifyIdentityAndCredentials,
} from "../identity/mod.ts";
import {
  curvesBackend,
  generateKeyAgreementKey,
  importKeyAgreementKey,
  installNativeCurves,
  isSyncKeyAgreementKey,
  isSyncSigningKey,
  type KeyAgreementKey,
  Vault,
} from "../vault/mod.ts";
import { useNativeCurves } from "../vault/deno.ts";

const data = JSON.parse(
  await Deno.readTextFile(new URL("../channel/testdata/ockam_handshake.json", import.meta.url)),
) as {
  protocol_name: string;
  cases: {
    initiator_static: string;
    initiator_ephemeral: string;
    responder_static: string;
    responder_ephemeral: string;
    messages: { payload: string; ciphertext: string }[];
  }[];
};

/** Runs `body` with native curves installed (`true`) or with the portable path. */
async function on<T>(native: boolean, body: () => Promise<T>): Promise<T> {
  if (native) useNativeCurves();
  else installNativeCurves(undefined);
  try {
    return await body();
  } finally {
    installNativeCurves(undefined);
  }
}

const importX25519 = (native: boolean, hex: string): Promise<KeyAgreementKey> =>
  importKeyAgreementKey("X25519", fromHex(hex), { backend: native ? "native" : "webcrypto" });

for (const nativeInitiator of [true, false]) {
  const label = nativeInitiator
    ? "native initiator, WebCrypto responder"
    : "WebCrypto initiator, native responder";

  Deno.test(`Ockam XX known-answer handshake byte for byte: ${label}`, () =>
    // Installed for the "native" keys; the other side's are forced onto WebCrypto.
    on(true, async () => {
      for (const c of data.cases) {
        const keys = {
          is: await importX25519(nativeInitiator, c.initiator_static),
          ie: await importX25519(nativeInitiator, c.initiator_ephemeral),
          rs: await importX25519(!nativeInitiator, c.responder_static),
          re: await importX25519(!nativeInitiator, c.responder_ephemeral),
        };
        assert.equal(isSyncKeyAgreementKey(keys.is), nativeInitiator);
        assert.equal(isSyncKeyAgreementKey(keys.rs), !nativeInitiator);
        const initiator = await HandshakeState.create({
          protocolName: data.protocol_name,
          initiator: true,
          staticKey: keys.is,
          ephemeralKey: keys.ie,
        });
        const responder = await HandshakeState.create({
          protocolName: data.protocol_name,
          initiator: false,
          staticKey: keys.rs,
          ephemeralKey: keys.re,
        });
        for (const [i, m] of c.messages.entries()) {
          const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
          const message = await writer.writeMessage(fromHex(m.payload));
          assert.equal(toHex(message), m.ciphertext, `message ${i + 1}`);
          assert.equal(toHex(await reader.readMessage(message)), m.payload);
        }
        assert.deepEqual(initiator.handshakeHash, responder.handshakeHash);
        const [iOut] = await initiator.split();
        const [rIn] = await responder.split();
        const sealed = await iOut.encryptWithAd(new Uint8Array(), new Uint8Array([7, 7]));
        assert.deepEqual(await rIn.decryptWithAd(new Uint8Array(), sealed), new Uint8Array([7, 7]));
      }
    }));
}

interface End {
  identity: LocalIdentity;
  hs: HandshakeState;
  payload: Uint8Array;
}

async function end(native: boolean, initiator: boolean): Promise<End> {
  return await on(native, async () => {
    assert.equal(curvesBackend(), native ? "node:crypto" : "webcrypto");
    const identity = await createIdentity(new Vault());
    const { key, attestation } = await identity.createSecureChannelKey();
    assert.equal(isSyncKeyAgreementKey(key), native);
    const hs = await HandshakeState.create({
      protocolName: OCKAM_XX_PROTOCOL_NAME,
      initiator,
      staticKey: key,
      ephemeralKey: await generateKeyAgreementKey("X25519"),
    });
    const payload = encodeIdentityAndCredentials({
      changeHistory: identity.changeHistory,
      purposeKeyAttestation: attestation,
      credentials: [],
    });
    return { identity, hs, payload };
  });
}

Deno.test("Ockam handshake with identities: a native end and a WebCrypto end verify each other", async () => {
  // The native side's identity key signs natively (its primary key is a native Ed25519 key).
  await on(true, async () => {
    const probe = await new Vault().createSigningKey("Ed25519");
    assert(isSyncSigningKey(probe.key));
  });
  for (const nativeInitiator of [true, false]) {
    const a = await end(nativeInitiator, true);
    const b = await end(!nativeInitiator, false);
    await b.hs.readMessage(await a.hs.writeMessage());
    const fromB = await a.hs.readMessage(await b.hs.writeMessage(b.payload));
    const fromA = await b.hs.readMessage(await a.hs.writeMessage(a.payload));
    assert(a.hs.isComplete && b.hs.isComplete);
    // Each side checks the other's identity on its own path: native signatures verified on
    // WebCrypto, WebCrypto signatures verified natively.
    const aSees = await on(
      nativeInitiator,
      () => verifyIdentityAndCredentials(fromB, { remoteStaticKey: a.hs.remoteStaticKey! }),
    );
    const bSees = await on(
      !nativeInitiator,
      () => verifyIdentityAndCredentials(fromA, { remoteStaticKey: b.hs.remoteStaticKey! }),
    );
    assert.equal(aSees.identity.identifier, b.identity.identifier);
    assert.equal(bSees.identity.identifier, a.identity.identifier);
    assert.deepEqual(a.hs.handshakeHash, b.hs.handshakeHash);
  }
});
