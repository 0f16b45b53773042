// The Noise core's tests again with every primitive synchronous, as the CLI installs them
// (a native AES-256-GCM and node:crypto's X25519/Ed25519): the handshake then runs its
// token processing without awaits, and must give the same bytes (Ockam's known answers,
// the cacophony vectors) and the same refusals as the portable path.
import { aeadBackend, curvesBackend } from "../vault/mod.ts";
import { useNativeAead, useNativeCurves } from "../vault/deno.ts";

useNativeAead();
useNativeCurves();
if (aeadBackend() === "webcrypto" || curvesBackend() === "webcrypto") {
  throw new Error("native backends did not install");
}
await import("./cipher_state_test.ts");
await import("./symmetric_state_test.ts");
await import("./handshake_state_test.ts");
await import("./handshake_state_property_test.ts");
await import("./cacophony_test.ts");
await import("./ockam_handshake_test.ts");

import assert from "node:assert/strict";
import { generateKeyAgreementKey } from "../vault/mod.ts";
import { HandshakeState } from "./handshake_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "./suite.ts";

Deno.test("native: every handshake message is computed without waiting for anything", async () => {
  const make = async (initiator: boolean) =>
    HandshakeState.create({
      protocolName: OCKAM_XX_PROTOCOL_NAME,
      initiator,
      staticKey: await generateKeyAgreementKey("X25519"),
    });
  const [i, r] = [await make(true), await make(false)];
  // A promise that is already settled runs its callback before a later microtask: so each
  // call's result is ready once one microtask has passed.
  const now = async <T>(promise: Promise<T>): Promise<T> => {
    let ready = false;
    promise.then(() => ready = true, () => ready = true);
    await Promise.resolve();
    assert(ready, "the call waited on something");
    return await promise;
  };
  await now(r.readMessage(await now(i.writeMessage())));
  await now(i.readMessage(await now(r.writeMessage(new Uint8Array([1])))));
  await now(r.readMessage(await now(i.writeMessage(new Uint8Array([2])))));
  assert(i.isComplete && r.isComplete);
  assert.deepEqual(i.handshakeHash, r.handshakeHash);
});
