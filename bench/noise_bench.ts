// Noise core benchmarks: full XX handshakes (both sides in one process) and transport
// encrypt + decrypt.
//
//   npx -y deno@2.9.6 bench -A bench/noise_bench.ts
import { type CipherState, HandshakeState } from "../channel/noise.ts";
import { generateKeyAgreementKey } from "../vault/mod.ts";

const SUITES = ["Noise_XX_25519_AESGCM_SHA256", "Noise_XX_25519_ChaChaPoly_BLAKE2s"];
const EMPTY = new Uint8Array(0);
const staticI = await generateKeyAgreementKey("X25519");
const staticR = await generateKeyAgreementKey("X25519");

async function handshake(protocolName: string): Promise<[CipherState, CipherState]> {
  const i = await HandshakeState.create({ protocolName, initiator: true, staticKey: staticI });
  const r = await HandshakeState.create({ protocolName, initiator: false, staticKey: staticR });
  await r.readMessage(await i.writeMessage(EMPTY));
  await i.readMessage(await r.writeMessage(EMPTY));
  await r.readMessage(await i.writeMessage(EMPTY));
  const [i1] = await i.split();
  const [r1] = await r.split();
  return [i1, r1];
}

for (const suite of SUITES) {
  Deno.bench(
    `XX handshake ${suite}`,
    { group: "handshake", baseline: suite === SUITES[0] },
    async () => {
      await handshake(suite);
    },
  );
}

for (const [label, size] of [["64 B", 64], ["1 KiB", 1024], ["64 KiB", 65536]] as const) {
  const plaintext = new Uint8Array(size).fill(7);
  for (const suite of SUITES) {
    const [sender, receiver] = await handshake(suite);
    Deno.bench(
      `transport ${label} ${suite}`,
      { group: `transport ${label}`, baseline: suite === SUITES[0] },
      async () => {
        await receiver.decryptWithAd(EMPTY, await sender.encryptWithAd(EMPTY, plaintext));
      },
    );
  }
}
