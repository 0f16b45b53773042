// Ockam's own handshake known-answer data (channel/testdata/ockam_handshake.json): the
// XX machinery Ockam's secure channel runs reproduces its messages byte for byte.
import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import { HandshakeState } from "./handshake_state.ts";

const data = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/ockam_handshake.json", import.meta.url)),
) as {
  protocol_name: string;
  initial_h: string;
  cases: {
    initiator_static: string;
    initiator_ephemeral: string;
    responder_static: string;
    responder_ephemeral: string;
    messages: { payload: string; ciphertext: string }[];
  }[];
};

Deno.test("Ockam test_initialization: h after initialisation", async () => {
  const staticKey = fromHex(data.cases[0]!.initiator_static);
  const hs = await HandshakeState.create({
    protocolName: data.protocol_name,
    initiator: true,
    staticKey,
  });
  assert.equal(toHex(hs.handshakeHash), data.initial_h);
});

Deno.test("Ockam test_full_handshake1 and 2: every message byte for byte", async () => {
  for (const c of data.cases) {
    const initiator = await HandshakeState.create({
      protocolName: data.protocol_name,
      initiator: true,
      staticKey: fromHex(c.initiator_static),
      ephemeralKey: fromHex(c.initiator_ephemeral),
    });
    const responder = await HandshakeState.create({
      protocolName: data.protocol_name,
      initiator: false,
      staticKey: fromHex(c.responder_static),
      ephemeralKey: fromHex(c.responder_ephemeral),
    });
    for (const [i, m] of c.messages.entries()) {
      const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
      const message = await writer.writeMessage(fromHex(m.payload));
      assert.equal(toHex(message), m.ciphertext, `message ${i + 1}`);
      assert.equal(toHex(await reader.readMessage(message)), m.payload);
    }
    assert.ok(initiator.isComplete && responder.isComplete);
    assert.deepEqual(initiator.handshakeHash, responder.handshakeHash);
  }
});
