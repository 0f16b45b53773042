// Side by side: Sealroute's Noise core against @chainsafe/libp2p-noise 17.0.0, in the same
// process and run, with the same payloads.
//
//   npx -y deno@2.9.6 run -A bench/noise_vs_libp2p.ts [--seconds=1] [--rounds=3]
//
// The peer is driven below its libp2p networking: its XXHandshakeState (dist/src/protocol.js)
// over its default crypto (node:crypto X25519 and SHA-256, ChaCha20-Poly1305 in
// AssemblyScript/wasm under 1200 bytes and node:crypto above), which is what a libp2p
// connection runs for Noise_XX_25519_ChaChaPoly_SHA256. The package's `exports` do not list
// protocol.js, so it is loaded by URL next to the exported `./crypto` entry.
//
// Rounds alternate the implementations and the best round of each is reported, so load
// from other processes on the machine skews both alike as far as possible.
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { HandshakeState } from "../channel/noise.ts";
import type { CipherState } from "../channel/noise.ts";
import { generateKeyAgreementKey } from "../vault/mod.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const SECONDS = Number(args.seconds ?? 1);
const ROUNDS = Number(args.rounds ?? 3);

// Same payloads for both: an empty first message, then 128 bytes in messages 2 and 3 (about
// the size of a signed identity payload), then transport messages of 64 B and 64 KiB.
const PAYLOAD_2_3 = new Uint8Array(128).fill(0x2a);
const SMALL = new Uint8Array(64).fill(1);
const LARGE = new Uint8Array(65536).fill(2);
const EMPTY = new Uint8Array(0);

// ---- the peer -------------------------------------------------------------------------

interface PeerList {
  subarray(): Uint8Array;
}
interface PeerCipherState {
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array | PeerList;
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | PeerList;
}
interface PeerHandshake {
  writeMessageA(payload: Uint8Array): unknown;
  writeMessageB(payload: Uint8Array): unknown;
  writeMessageC(payload: Uint8Array): unknown;
  readMessageA(message: unknown): unknown;
  readMessageB(message: unknown): unknown;
  readMessageC(message: unknown): unknown;
  ss: { split(): [PeerCipherState, PeerCipherState] };
}
type PeerHandshakeClass = new (init: Record<string, unknown>) => PeerHandshake;

const cryptoEntry = import.meta.resolve("@chainsafe/libp2p-noise/crypto");
const { XXHandshakeState } = await import(new URL("../protocol.js", cryptoEntry).href) as {
  XXHandshakeState: PeerHandshakeClass;
};
const { wrapCrypto } = await import(new URL("../crypto.js", cryptoEntry).href) as {
  wrapCrypto: (c: typeof defaultCrypto) => unknown;
};
const peerCrypto = wrapCrypto(defaultCrypto);
const peerStaticI = defaultCrypto.generateX25519KeyPair();
const peerStaticR = defaultCrypto.generateX25519KeyPair();

function peerHandshake(): [PeerCipherState, PeerCipherState, PeerCipherState, PeerCipherState] {
  const common = {
    crypto: peerCrypto,
    protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
    prologue: EMPTY,
  };
  const i = new XXHandshakeState({ ...common, initiator: true, s: peerStaticI });
  const r = new XXHandshakeState({ ...common, initiator: false, s: peerStaticR });
  r.readMessageA(i.writeMessageA(EMPTY));
  i.readMessageB(r.writeMessageB(PAYLOAD_2_3));
  r.readMessageC(i.writeMessageC(PAYLOAD_2_3));
  const [i1, i2] = i.ss.split();
  const [r1, r2] = r.ss.split();
  return [i1, i2, r1, r2];
}

// ---- ours -----------------------------------------------------------------------------

const ourStaticI = await generateKeyAgreementKey("X25519");
const ourStaticR = await generateKeyAgreementKey("X25519");

async function ourHandshake(protocolName: string): Promise<[CipherState, CipherState]> {
  const i = await HandshakeState.create({ protocolName, initiator: true, staticKey: ourStaticI });
  const r = await HandshakeState.create({ protocolName, initiator: false, staticKey: ourStaticR });
  await r.readMessage(await i.writeMessage(EMPTY));
  await i.readMessage(await r.writeMessage(PAYLOAD_2_3));
  await r.readMessage(await i.writeMessage(PAYLOAD_2_3));
  const [i1] = await i.split();
  const [r1] = await r.split();
  return [i1, r1];
}

// ---- measurement ----------------------------------------------------------------------

/** Operations per second of `op`, run for SECONDS after a short warm-up. */
async function rate(op: () => unknown): Promise<number> {
  const warm = performance.now() + 200;
  while (performance.now() < warm) await op();
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let now = start;
  while (now < end) {
    for (let k = 0; k < 8; k++) await op();
    count += 8;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

function peerTransport(size: Uint8Array): () => void {
  const [i1, , r1] = peerHandshake();
  return () => {
    const ct = i1.encryptWithAd(EMPTY, size);
    const pt = r1.decryptWithAd(EMPTY, ct instanceof Uint8Array ? ct : ct.subarray());
    if ((pt instanceof Uint8Array ? pt : pt.subarray()).length !== size.length) {
      throw new Error("peer");
    }
  };
}

async function ourTransport(protocolName: string, size: Uint8Array): Promise<() => Promise<void>> {
  const [i1, r1] = await ourHandshake(protocolName);
  return async () => {
    const ct = await i1.encryptWithAd(EMPTY, size);
    const pt = await r1.decryptWithAd(EMPTY, ct);
    if (pt.length !== size.length) throw new Error("ours");
  };
}

const SUITES = ["Noise_XX_25519_ChaChaPoly_SHA256", "Noise_XX_25519_AESGCM_SHA256"];
type Row = { name: string; handshakes: number; small: number; large: number };
const best = new Map<string, Row>();
function record(row: Row): void {
  const old = best.get(row.name);
  best.set(row.name, {
    name: row.name,
    handshakes: Math.max(row.handshakes, old?.handshakes ?? 0),
    small: Math.max(row.small, old?.small ?? 0),
    large: Math.max(row.large, old?.large ?? 0),
  });
}

for (let round = 0; round < ROUNDS; round++) {
  record({
    name: "libp2p-noise Noise_XX_25519_ChaChaPoly_SHA256",
    handshakes: await rate(peerHandshake),
    small: await rate(peerTransport(SMALL)),
    large: await rate(peerTransport(LARGE)),
  });
  for (const suite of SUITES) {
    record({
      name: `sealroute ${suite}`,
      handshakes: await rate(() => ourHandshake(suite)),
      small: await rate(await ourTransport(suite, SMALL)),
      large: await rate(await ourTransport(suite, LARGE)),
    });
  }
}

const peer = best.get("libp2p-noise Noise_XX_25519_ChaChaPoly_SHA256")!;
const mb = (perSecond: number) => perSecond * LARGE.length / 1e6;
console.log(
  `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ${navigator.hardwareConcurrency} cores; ` +
    `best of ${ROUNDS} rounds × ${SECONDS} s each; transport = encrypt + decrypt\n`,
);
console.log(
  "| implementation | XX handshakes/s | × peer | 64 B msgs/s | × peer | 64 KiB MB/s | × peer |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const row of best.values()) {
  console.log(
    `| ${row.name} | ${row.handshakes.toFixed(0)} | ${
      (row.handshakes / peer.handshakes).toFixed(2)
    } | ` +
      `${row.small.toFixed(0)} | ${(row.small / peer.small).toFixed(2)} | ` +
      `${mb(row.large).toFixed(0)} | ${(row.large / peer.large).toFixed(2)} |`,
  );
}
