// Every cacophony vector (testdata/noise/README.md): handshake messages, handshake
// hash on both sides, then transport messages in both directions, byte for byte.
import assert from "node:assert/strict";
import { fromHex, toHex } from "../_bytes.ts";
import type { CipherState } from "./cipher_state.ts";
import { type HandshakeOptions, HandshakeState } from "./handshake_state.ts";
import { parseProtocolName } from "./suite.ts";

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_psks: string[];
  init_static?: string;
  init_ephemeral?: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_psks: string[];
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const VECTORS_URL = new URL("./testdata/noise/cacophony.json", import.meta.url);

function sideOptions(v: Vector, initiator: boolean): HandshakeOptions {
  const p = initiator ? "init" : "resp";
  const options: HandshakeOptions = {
    protocolName: v.protocol_name,
    initiator,
    prologue: fromHex(v[`${p}_prologue`]),
    psks: v[`${p}_psks`].map(fromHex),
  };
  const s = v[`${p}_static`];
  const e = v[`${p}_ephemeral`];
  const rs = v[`${p}_remote_static`];
  if (s) options.staticKey = fromHex(s);
  if (e) options.ephemeralKey = fromHex(e);
  if (rs) options.remoteStaticKey = fromHex(rs);
  return options;
}

async function runVector(v: Vector): Promise<void> {
  const init = await HandshakeState.create(sideOptions(v, true));
  const resp = await HandshakeState.create(sideOptions(v, false));
  const oneWay = parseProtocolName(v.protocol_name).pattern.oneWay;
  let i = 0;
  let transport: [[CipherState, CipherState], [CipherState, CipherState]] | undefined;
  for (const m of v.messages) {
    const fromInitiator = oneWay || i % 2 === 0;
    const payload = fromHex(m.payload);
    if (!transport) {
      const [writer, reader] = fromInitiator ? [init, resp] : [resp, init];
      assert(writer.isMyTurn && !reader.isMyTurn, `message ${i}: turn`);
      const message = await writer.writeMessage(payload);
      assert.equal(toHex(message), m.ciphertext, `handshake message ${i}`);
      assert.equal(toHex(await reader.readMessage(message)), m.payload, `payload ${i}`);
      if (init.isComplete) {
        assert(resp.isComplete, "both sides complete together");
        assert.equal(toHex(init.handshakeHash), v.handshake_hash, "initiator handshake hash");
        assert.equal(toHex(resp.handshakeHash), v.handshake_hash, "responder handshake hash");
        transport = [await init.split(), await resp.split()];
      }
    } else {
      const [[i1, i2], [r1, r2]] = transport;
      const [enc, dec] = fromInitiator ? [i1, r1] : [r2, i2];
      const ct = await enc.encryptWithAd(new Uint8Array(), payload);
      assert.equal(toHex(ct), m.ciphertext, `transport message ${i}`);
      assert.equal(toHex(await dec.decryptWithAd(new Uint8Array(), ct)), m.payload);
    }
    i++;
  }
  assert(transport, "handshake completed");
}

Deno.test("all 944 cacophony vectors pass byte for byte", async () => {
  const file = JSON.parse(await Deno.readTextFile(VECTORS_URL)) as { vectors: Vector[] };
  let ran = 0;
  const failures: string[] = [];
  for (const v of file.vectors) {
    try {
      await runVector(v);
      ran++;
    } catch (error) {
      failures.push(`${v.protocol_name}: ${error instanceof Error ? error.message : error}`);
    }
  }
  console.log(`cacophony: ${ran} of ${file.vectors.length} vectors passed`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} vectors failed`);
  assert.equal(ran, 944);
});
