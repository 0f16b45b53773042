// Secure channels end to end, side by side with @chainsafe/libp2p-noise 17.0.0 and with the
// WebCrypto floor and ceiling, all in one process and one run.
//
//   npx -y deno@2.9.6 run -A bench/channel_vs_libp2p.ts [--rounds=5] [--seconds=1.5] [--quick]
//   [--only=handshakes|throughput]
//
// Handshakes (both ends in this process, each counted once both ends have finished):
//   - sealroute: createSecureChannel against createSecureChannelListener on a second Node,
//     identities, purpose-key attestations, trust policy and all, over memoryDuplexPair and
//     over TCP loopback (listenTcp + connectTcp, one connection carrying every handshake);
//     once portable (WebCrypto only) and once native (the synchronous AES-256-GCM and
//     X25519/Ed25519 the CLI installs: OpenSSL through FFI or node:crypto, node:crypto's
//     curves), each with its own identities made under its backend, in alternating rows.
//   - the peer: libp2p-noise's own performHandshakeInitiator/Responder (dist/src/
//     performHandshake.js): XX over its default crypto plus its identity payload (protobuf,
//     an Ed25519 signature of the static key made and checked per handshake), over an
//     in-memory message pipe and over a raw Deno TCP pair framed as libp2p frames
//     handshake messages (uint16 big-endian length). The bare XXHandshakeState, as
//     bench/noise_vs_libp2p.ts drives it, is reported too.
//   - the WebCrypto floor: the primitives such a handshake needs, called back to back.
//
// Throughput (TCP loopback, one way, timed from the first send to the last arrival):
//   - sealroute: channel.send([counter], payload) from one node through a channel to a
//     counting worker on the other; with WebCrypto's AES-256-GCM (the portable default) and
//     with OpenSSL's through FFI (what `useNativeAead()` and the CLI install).
//   - the peer: its split cipher states' encryptWithAd/decryptWithAd with exactly the
//     chunking and uint16 framing of its EncryptedMessageStream (dist/src/utils.js), over a
//     raw Deno TCP pair; writes coalesced up to 256 KiB as our transport does.
//   - the ceiling: AES-256-GCM through WebCrypto, 64 messages in flight, each sealed then
//     opened (what a channel does to a message across both ends), no I/O.
//
// Rounds alternate the implementations; the median of the rounds is reported (the machine
// is shared, so single figures move by ±30 %).
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { createSecureChannel, createSecureChannelListener } from "../channel/mod.ts";
import type { SecureChannel } from "../channel/mod.ts";
import { RouteError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { type Flow as RouteFlow, type Logger, Node, type Route } from "../routing/mod.ts";
import { attachDuplex, memoryDuplexPair } from "../transport/mod.ts";
import { connectTcp, listenTcp } from "../transport/deno.ts";
import { installNativeAead, installNativeCurves, Vault } from "../vault/mod.ts";
import { nodeCryptoAead, nodeCryptoCurves, openSslAead } from "../vault/deno.ts";

const args = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const QUICK = "quick" in args;
const ROUNDS = Number(args.rounds ?? (QUICK ? 3 : 5));
const SECONDS = Number(args.seconds ?? (QUICK ? 0.75 : 1.5));
const ONLY = args.only as string | undefined;
const SMALL = 64;
const LARGE = 64 * 1024;
const SMALL_COUNT = QUICK ? 20_000 : 60_000;
// 64 KiB messages per round; a run whose messages stop arriving reports a stall.
const LARGE_COUNT = Number(args["large-count"] ?? 1_000);
const EMPTY = new Uint8Array(0);

/** Counts what nodes log at warn/error, so a run that silently dropped frames says so. */
const problems: string[] = [];
let shuttingDown = false; // a peer closing its end at shutdown logs "connection lost"
const countingLogger: Logger = {
  debug() {},
  info() {},
  warn(message) {
    if (!shuttingDown) problems.push(message);
  },
  error(message) {
    problems.push(message);
  },
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Completions per second of `concurrency` loops of `op` for SECONDS, after a warm-up. */
async function rate(op: () => Promise<unknown>, concurrency: number): Promise<number> {
  const loop = async (until: number) => {
    let n = 0;
    while (performance.now() < until) {
      await op();
      n++;
    }
    return n;
  };
  const warm = performance.now() + 250;
  await Promise.all(Array.from({ length: concurrency }, () => loop(warm)));
  const start = performance.now();
  const end = start + SECONDS * 1000;
  const counts = await Promise.all(Array.from({ length: concurrency }, () => loop(end)));
  const elapsed = (performance.now() - start) / 1000;
  return counts.reduce((a, b) => a + b, 0) / elapsed;
}

// ---- sealroute handshakes -------------------------------------------------------------

interface ChannelPair {
  /** One complete handshake: resolves once both ends have their channel. */
  handshake(): Promise<void>;
  /** Closes the channels opened so far (not timed). */
  closeChannels(): Promise<void>;
  close(): Promise<void>;
}

async function channelPair(kind: "memory" | "tcp"): Promise<ChannelPair> {
  const client = new Node({ logger: countingLogger });
  const server = new Node({ logger: countingLogger });
  let route: Route;
  let closeLink: () => Promise<void> = () => Promise.resolve();
  let serverFlow: RouteFlow;
  if (kind === "memory") {
    const [a, b] = memoryDuplexPair();
    route = attachDuplex(client, a).route.append("api");
    serverFlow = attachDuplex(server, b).flow;
  } else {
    const listener = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
    route = (await connectTcp(client, `127.0.0.1:${listener.port}`)).route.append("api");
    serverFlow = listener.flow;
    closeLink = () => listener.close();
  }
  const serverIdentity = await createIdentity(new Vault());
  const clientIdentity = await createIdentity(new Vault());
  let accepted = 0;
  let waiters: { target: number; resolve: () => void }[] = [];
  await createSecureChannelListener(server, "api", {
    identity: serverIdentity,
    consumes: [serverFlow],
    onChannel: () => {
      accepted++;
      waiters = waiters.filter((w) => w.target <= accepted ? (w.resolve(), false) : true);
    },
  });
  let started = 0;
  const open: SecureChannel[] = [];
  const closeChannels = async () => {
    const all = open.splice(0);
    for (let i = 0; i < all.length; i += 64) {
      await Promise.all(all.slice(i, i + 64).map((c) => c.close()));
    }
  };
  return {
    async handshake() {
      const target = ++started;
      open.push(await createSecureChannel(client, route, { identity: clientIdentity }));
      if (accepted < target) {
        await new Promise<void>((resolve) => waiters.push({ target, resolve }));
      }
    },
    closeChannels,
    async close() {
      await closeChannels();
      await closeLink();
      await client.close();
      await server.close();
    },
  };
}

// ---- the peer: libp2p-noise ------------------------------------------------------------

interface PeerCipherState {
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array | { subarray(): Uint8Array };
  decryptWithAd(
    ad: Uint8Array,
    ciphertext: Uint8Array,
    dst?: Uint8Array,
  ): Uint8Array | { subarray(): Uint8Array };
}
interface PeerXX {
  writeMessageA(payload: Uint8Array): Uint8Array;
  writeMessageB(payload: Uint8Array): Uint8Array;
  writeMessageC(payload: Uint8Array): Uint8Array;
  readMessageA(message: Uint8Array): Uint8Array;
  readMessageB(message: Uint8Array): Uint8Array;
  readMessageC(message: Uint8Array): Uint8Array;
  ss: { split(): [PeerCipherState, PeerCipherState] };
}
interface PeerConnection {
  write(bytes: Uint8Array | { subarray(): Uint8Array }): Promise<void>;
  read(): Promise<{ subarray(): Uint8Array }>;
}
interface PeerSession {
  encrypt(plaintext: Uint8Array): Uint8Array | { subarray(): Uint8Array };
  decrypt(ciphertext: Uint8Array, dst?: Uint8Array): Uint8Array | { subarray(): Uint8Array };
}
type PerformHandshake = (init: Record<string, unknown>) => Promise<PeerSession>;

// protocol.js and performHandshake.js are not in the package's `exports`; they are loaded by
// URL beside the exported ./crypto entry. @libp2p/crypto (its identity keys) and
// uint8arraylist (what its lpStream hands the handshake) are the versions deno.lock pins for
// libp2p-noise 17.0.0.
const cryptoEntry = import.meta.resolve("@chainsafe/libp2p-noise/crypto");
const peerModule = (path: string) => import(new URL(path, cryptoEntry).href);
const { XXHandshakeState } = await peerModule("../protocol.js") as {
  XXHandshakeState: new (init: Record<string, unknown>) => PeerXX;
};
const { wrapCrypto } = await peerModule("../crypto.js") as {
  wrapCrypto: (c: typeof defaultCrypto) => unknown;
};
const { performHandshakeInitiator, performHandshakeResponder } = await peerModule(
  "../performHandshake.js",
) as { performHandshakeInitiator: PerformHandshake; performHandshakeResponder: PerformHandshake };
const { generateKeyPair } = await peerModule(
  "../../../../../../@libp2p/crypto/5.1.23/dist/src/keys/index.js",
) as { generateKeyPair: (type: "Ed25519") => Promise<unknown> };

const { Uint8ArrayList } = await peerModule(
  "../../../../../../uint8arraylist/2.4.9/dist/src/index.js",
) as { Uint8ArrayList: new (...bufs: Uint8Array[]) => { subarray(): Uint8Array } };

const peerCrypto = wrapCrypto(defaultCrypto);
const peerStatic = [defaultCrypto.generateX25519KeyPair(), defaultCrypto.generateX25519KeyPair()];
const peerIdentity = [await generateKeyPair("Ed25519"), await generateKeyPair("Ed25519")];
const silentLog = Object.assign(() => {}, { enabled: false, trace() {}, error() {} });
const PROTOCOL = "Noise_XX_25519_ChaChaPoly_SHA256";
const bytesOf = (b: Uint8Array | { subarray(): Uint8Array }) =>
  b instanceof Uint8Array ? b : b.subarray();

/** The bare handshake state, as bench/noise_vs_libp2p.ts measures it (128-byte payloads). */
function peerStateHandshake(): [PeerCipherState, PeerCipherState, PeerCipherState] {
  const common = { crypto: peerCrypto, protocolName: PROTOCOL, prologue: EMPTY };
  const payload = new Uint8Array(128);
  const i = new XXHandshakeState({ ...common, initiator: true, s: peerStatic[0] });
  const r = new XXHandshakeState({ ...common, initiator: false, s: peerStatic[1] });
  r.readMessageA(i.writeMessageA(EMPTY));
  i.readMessageB(r.writeMessageB(payload));
  r.readMessageC(i.writeMessageC(payload));
  const [i1] = i.ss.split();
  const [r1, r2] = r.ss.split();
  return [i1, r1, r2];
}

/** A message pipe in memory: what one side writes, the other reads, whole. */
function memoryPipe(): [PeerConnection, PeerConnection] {
  const make = () => {
    const queue: Uint8Array[] = [];
    let waiting: ((b: Uint8Array) => void) | undefined;
    return {
      push(b: Uint8Array) {
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w(b);
        } else queue.push(b);
      },
      pull(): Promise<Uint8Array> {
        const b = queue.shift();
        return b ? Promise.resolve(b) : new Promise((r) => waiting = r);
      },
    };
  };
  const ab = make();
  const ba = make();
  return [
    {
      write: (b) => (ab.push(bytesOf(b)), Promise.resolve()),
      read: async () => new Uint8ArrayList(await ba.pull()),
    },
    {
      write: (b) => (ba.push(bytesOf(b)), Promise.resolve()),
      read: async () => new Uint8ArrayList(await ab.pull()),
    },
  ];
}

/** Splits a byte stream into uint16-big-endian-length frames (libp2p's handshake framing). */
class FrameReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(256 * 1024);
  #start = 0;
  #end = 0;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  /** Frames complete in the buffer now, as views (valid until the next fill). */
  *frames(): Generator<Uint8Array> {
    while (this.#end - this.#start >= 2) {
      const length = (this.#buf[this.#start]! << 8) | this.#buf[this.#start + 1]!;
      if (this.#end - this.#start < 2 + length) return;
      const frame = this.#buf.subarray(this.#start + 2, this.#start + 2 + length);
      this.#start += 2 + length; // before yielding: a caller may stop after one frame
      yield frame;
    }
  }
  /** Reads more bytes; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }
  async next(): Promise<Uint8Array> {
    for (;;) {
      for (const frame of this.frames()) return frame.slice();
      if (!await this.fill()) throw new Error("peer: connection closed");
    }
  }
}

function framed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn, () => void]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const a = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const b = await accepted;
  a.setNoDelay(true);
  b.setNoDelay(true);
  return [a, b, () => {
    a.close();
    b.close();
    listener.close();
  }];
}

function tcpConnection(conn: Deno.Conn): PeerConnection {
  const reader = new FrameReader(conn);
  return {
    async write(b) {
      const frame = framed(bytesOf(b));
      let off = 0;
      while (off < frame.length) off += await conn.write(frame.subarray(off));
    },
    read: async () => new Uint8ArrayList(await reader.next()),
  };
}

function peerInit(side: 0 | 1, connection: PeerConnection): Record<string, unknown> {
  return {
    log: silentLog,
    connection,
    crypto: peerCrypto,
    privateKey: peerIdentity[side],
    prologue: EMPTY,
    s: peerStatic[side],
  };
}

async function peerPair(kind: "memory" | "tcp"): Promise<{
  handshake(): Promise<void>;
  close(): void;
}> {
  let a: PeerConnection;
  let b: PeerConnection;
  let close = () => {};
  if (kind === "memory") [a, b] = memoryPipe();
  else {
    const [x, y, done] = await tcpPair();
    a = tcpConnection(x);
    b = tcpConnection(y);
    close = done;
  }
  // One connection carries one handshake at a time (as a libp2p connection does).
  return {
    async handshake() {
      await Promise.all([
        performHandshakeInitiator(peerInit(0, a)),
        performHandshakeResponder(peerInit(1, b)),
      ]);
    },
    close,
  };
}

// ---- the WebCrypto floor ----------------------------------------------------------------

const subtle = crypto.subtle;
const x25519 = { name: "X25519" } as const;
const aes = { name: "AES-GCM", length: 256 } as const;
const fixedX25519 = await subtle.generateKey(x25519, true, ["deriveBits"]) as CryptoKeyPair;
const fixedX25519Public = new Uint8Array(await subtle.exportKey("raw", fixedX25519.publicKey));
const ed = await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
const edPublic = new Uint8Array(await subtle.exportKey("raw", ed.publicKey));
const signedData = new Uint8Array(32).fill(7); // both signatures in the payload sign a SHA-256
const edSignature = await subtle.sign("Ed25519", ed.privateKey, signedData);
const rawAesKey = new Uint8Array(32).fill(3);
const iv = new Uint8Array(12);

/**
 * The WebCrypto work one XX handshake with Ockam identity payloads needs, both ends: 2
 * ephemeral X25519 key pairs (+ export of the public key), 4 imports of a peer's X25519
 * public key (e and s of each side), 6 X25519 DH, 4 imports of an Ed25519 public key and 4
 * Ed25519 verifications (each side checks the peer's change history and its purpose-key
 * attestation), 10 AES-256-GCM key imports (3 MixKey and 2 Split keys per side) and 4
 * seals + 4 opens of handshake payloads (s and the identity payload in messages 2 and 3).
 * SHA-256/HKDF run synchronously on @noble/hashes and are not in the floor.
 */
async function webCryptoFloor(): Promise<void> {
  for (let k = 0; k < 2; k++) {
    const e = await subtle.generateKey(x25519, true, ["deriveBits"]) as CryptoKeyPair;
    await subtle.exportKey("raw", e.publicKey);
  }
  const peers: CryptoKey[] = [];
  for (let k = 0; k < 4; k++) {
    peers.push(await subtle.importKey("raw", fixedX25519Public, x25519, true, []));
  }
  for (let k = 0; k < 6; k++) {
    await subtle.deriveBits({ name: "X25519", public: peers[k % 4]! }, fixedX25519.privateKey, 256);
  }
  for (let k = 0; k < 4; k++) {
    const pub = await subtle.importKey("raw", edPublic, { name: "Ed25519" }, false, ["verify"]);
    if (!await subtle.verify("Ed25519", pub, edSignature, signedData)) throw new Error("floor");
  }
  const keys: CryptoKey[] = [];
  for (let k = 0; k < 10; k++) {
    keys.push(await subtle.importKey("raw", rawAesKey, aes, false, ["encrypt", "decrypt"]));
  }
  // s (32 B) and the identity payload (~300 B here) in messages 2 and 3.
  for (const size of [32, 300, 32, 300]) {
    const sealed = await subtle.encrypt({ name: "AES-GCM", iv }, keys[0]!, new Uint8Array(size));
    await subtle.decrypt({ name: "AES-GCM", iv }, keys[0]!, sealed);
  }
}

/** Only the asymmetric part of the floor: key generation, DH, signature checks. */
async function asymmetricFloor(): Promise<void> {
  for (let k = 0; k < 2; k++) await subtle.generateKey(x25519, true, ["deriveBits"]);
  for (let k = 0; k < 6; k++) {
    await subtle.deriveBits(
      { name: "X25519", public: fixedX25519.publicKey },
      fixedX25519.privateKey,
      256,
    );
  }
  for (let k = 0; k < 4; k++) await subtle.verify("Ed25519", ed.publicKey, edSignature, signedData);
}

/** Counts the WebCrypto calls `op` makes (by method and algorithm). */
async function countWebCrypto(op: () => Promise<void>, times: number): Promise<string> {
  const counts = new Map<string, number>();
  const target = subtle as unknown as Record<string, (...a: unknown[]) => unknown>;
  const methods = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "digest",
    "generateKey",
    "deriveBits",
    "importKey",
    "exportKey",
  ];
  const saved = methods.map((m) => target[m]!);
  methods.forEach((m, i) => {
    const original = saved[i]!.bind(subtle);
    target[m] = (...a: unknown[]) => {
      const alg = (m === "importKey" ? a[2] : a[0]) as string | { name?: string } | undefined;
      const name = typeof alg === "string" ? alg : alg?.name ?? "";
      const key = `${m} ${name}`.trim();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return original(...a);
    };
  });
  try {
    for (let i = 0; i < times; i++) await op();
  } finally {
    methods.forEach((m, i) => target[m] = saved[i]!);
  }
  return [...counts].sort().map(([k, v]) => `${k} ×${(v / times).toFixed(1)}`).join(", ");
}

// ---- throughput ---------------------------------------------------------------------------

interface Flow {
  messages: number;
  seconds: number;
}

async function ourThroughput(size: number, count: number): Promise<Flow & { retries: number }> {
  const client = new Node({ logger: countingLogger });
  const server = new Node({ logger: countingLogger });
  const listener = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const connection = await connectTcp(client, `127.0.0.1:${listener.port}`);
  const channels = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [listener.flow],
  });
  const channel = await createSecureChannel(client, connection.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => done = resolve);
  server.startWorker("counter", () => {
    if (++got === count) done();
  }, { consumes: [channels.flow] });
  const payload = new Uint8Array(size).fill(1);
  let retries = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    try {
      await channel.send("counter", payload);
    } catch (error) {
      // channel.send fails fast when the encryptor's mailbox is full: yield and retry.
      if (!(error instanceof RouteError) || error.code !== "mailbox-full") throw error;
      retries++;
      i--;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  // A frame the channel dropped never arrives: give up after 3 s without progress.
  let last = -1;
  while (got < count && got !== last) {
    last = got;
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 3000))]);
  }
  const seconds = (performance.now() - start) / 1000;
  if (got < count) {
    console.error(`sealroute ${size} B: stalled, ${got} of ${count} arrived`);
    return { messages: got, seconds: Infinity, retries };
  }
  shuttingDown = true;
  await channel.close();
  await listener.close();
  await client.close();
  await server.close();
  shuttingDown = false;
  return { messages: count, seconds, retries };
}

const MAX_CHUNK = 65535 - 16; // NOISE_MSG_MAX_LENGTH_BYTES_WITHOUT_TAG

async function peerThroughput(size: number, count: number): Promise<Flow> {
  const [sender, receiver] = peerStateHandshake(); // initiator → responder
  const [a, b, close] = await tcpPair();
  const total = size * count;
  const received = (async () => {
    const reader = new FrameReader(b);
    let bytes = 0;
    while (bytes < total) {
      if (!await reader.fill()) break;
      for (const frame of reader.frames()) {
        // As EncryptedMessageStream.decrypt: decrypt in place into the ciphertext's buffer.
        const plaintext = receiver.decryptWithAd(
          EMPTY,
          frame,
          frame.subarray(0, frame.length - 16),
        );
        bytes += bytesOf(plaintext).length;
      }
    }
    return bytes;
  })();
  const payload = new Uint8Array(size).fill(1);
  const BATCH = 256 * 1024;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const flush = async () => {
    const out = new Uint8Array(batchBytes);
    let off = 0;
    for (const part of batch) {
      out.set(part, off);
      off += part.length;
    }
    batch = [];
    batchBytes = 0;
    for (let w = 0; w < out.length;) w += await a.write(out.subarray(w));
  };
  const start = performance.now();
  for (let m = 0; m < count; m++) {
    // As EncryptedMessageStream.encrypt: chunks of at most 65519 bytes, each framed.
    for (let i = 0; i < size; i += MAX_CHUNK) {
      const sealed = bytesOf(
        sender.encryptWithAd(EMPTY, payload.subarray(i, Math.min(size, i + MAX_CHUNK))),
      );
      batch.push(new Uint8Array([sealed.length >> 8, sealed.length & 0xff]), sealed);
      batchBytes += 2 + sealed.length;
    }
    if (batchBytes >= BATCH) await flush();
  }
  if (batchBytes > 0) await flush();
  const bytes = await received;
  const seconds = (performance.now() - start) / 1000;
  close();
  if (bytes !== total) throw new Error(`peer: expected ${total} bytes, got ${bytes}`);
  return { messages: count, seconds };
}

async function aesCeiling(size: number, count: number): Promise<Flow> {
  const key = await subtle.importKey("raw", rawAesKey, aes, false, ["encrypt", "decrypt"]);
  const payload = new Uint8Array(size).fill(1);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setUint32(8, n);
      const sealed = await subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, payload);
      await subtle.decrypt({ name: "AES-GCM", iv: nonce }, key, sealed);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: 64 }, lane));
  return { messages: count, seconds: (performance.now() - start) / 1000 };
}

// ---- run ------------------------------------------------------------------------------------

const header =
  `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ${Deno.build.os}/${Deno.build.arch}, ` +
  `${navigator.hardwareConcurrency} cores, load ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
  }; ` +
  `median of ${ROUNDS} rounds`;
console.log(header);

const fmt = (n: number) => Math.round(n).toLocaleString("en");

if (ONLY !== "throughput") {
  // Each backend's pairs are made, and their purpose keys created, under that backend, so
  // every key a row uses (identity, purpose, ephemeral, AEAD) is of the backend it names.
  const nativeAead = openSslAead() ?? nodeCryptoAead();
  const nativeCurves = nodeCryptoCurves();
  const backends = {
    portable: () => {
      installNativeAead(undefined);
      installNativeCurves(undefined);
    },
    native: () => {
      installNativeAead(nativeAead);
      installNativeCurves(nativeCurves);
    },
  };
  type BackendName = keyof typeof backends;
  const backendNames = Object.keys(backends) as BackendName[];
  const label = (b: BackendName) =>
    b === "portable" ? "portable (WebCrypto)" : `native (${nativeAead.name}, ${nativeCurves.name})`;
  const pairs = {} as Record<BackendName, Record<"memory" | "tcp", ChannelPair>>;
  for (const b of backendNames) {
    backends[b]();
    pairs[b] = { memory: await channelPair("memory"), tcp: await channelPair("tcp") };
    await pairs[b].memory.handshake(); // the first one creates each identity's purpose key
    await pairs[b].tcp.handshake();
  }
  backends.portable();
  const peers = { memory: await peerPair("memory"), tcp: await peerPair("tcp") };
  const rows = new Map<string, number[]>();
  const add = (name: string, value: number) => rows.set(name, [...(rows.get(name) ?? []), value]);
  console.log(
    `\nWebCrypto calls per portable sealroute handshake (both ends, in memory): ${await countWebCrypto(
      () => pairs.portable.memory.handshake(),
      20,
    )}`,
  );
  backends.native();
  console.log(
    `WebCrypto calls per native sealroute handshake (both ends, in memory): ${
      (await countWebCrypto(() => pairs.native.memory.handshake(), 20)) || "none"
    }`,
  );
  backends.portable();
  for (const b of backendNames) await pairs[b].memory.closeChannels();
  await new Promise((resolve) => setTimeout(resolve, 100)); // let the Close frames land
  console.log(`WebCrypto calls of the floor: ${await countWebCrypto(webCryptoFloor, 1)}`);
  const ourRow = (b: BackendName, kind: string, concurrency: number) =>
    `sealroute ${label(b)}, ${kind}, ${concurrency} in flight`;
  for (let round = 0; round < ROUNDS; round++) {
    for (const concurrency of [1, 8]) {
      for (const kind of ["memory", "tcp"] as const) {
        // Alternate which backend goes first, so neither always runs on a warmer machine.
        const order = round % 2 ? [...backendNames].reverse() : backendNames;
        for (const b of order) {
          backends[b]();
          add(
            ourRow(b, kind, concurrency),
            await rate(() => pairs[b][kind].handshake(), concurrency),
          );
          await pairs[b][kind].closeChannels();
          backends.portable();
        }
        add(
          `libp2p-noise performHandshake, ${kind}, ${concurrency} in flight`,
          await rate(() => peers[kind].handshake(), 1),
        );
      }
      add(`WebCrypto floor, ${concurrency} in flight`, await rate(webCryptoFloor, concurrency));
      add(
        `WebCrypto asymmetric only, ${concurrency} in flight`,
        await rate(asymmetricFloor, concurrency),
      );
    }
    add(
      "libp2p-noise XXHandshakeState only (no identity payload)",
      await rate(() => Promise.resolve(peerStateHandshake()), 1),
    );
    console.error(`handshakes: round ${round + 1}/${ROUNDS} done`);
  }
  shuttingDown = true;
  for (const b of backendNames) for (const p of Object.values(pairs[b])) await p.close();
  shuttingDown = false;
  for (const p of Object.values(peers)) p.close();
  const m = (name: string) => median(rows.get(name)!);
  const line = (name: string, ours: number) =>
    console.log(
      `| ${name} | ${fmt(m(name))} | ${rows.get(name)!.map(fmt).join(" ")} | ${
        (ours / m(name)).toFixed(2)
      } |`,
    );
  console.log(
    "\n| handshakes (both ends complete) | per s (median) | all rounds | sealroute native ÷ this |",
  );
  console.log("|---|---:|---|---:|");
  for (const concurrency of [1, 8]) {
    for (const kind of ["memory", "tcp"] as const) {
      const ours = m(ourRow("native", kind, concurrency));
      for (const b of backendNames) line(ourRow(b, kind, concurrency), ours);
      line(`libp2p-noise performHandshake, ${kind}, ${concurrency} in flight`, ours);
    }
    const ours = m(ourRow("portable", "memory", concurrency));
    // The floors are WebCrypto's: compared with the portable row.
    for (
      const name of [
        `WebCrypto floor, ${concurrency} in flight`,
        `WebCrypto asymmetric only, ${concurrency} in flight`,
      ]
    ) {
      console.log(
        `| ${name} | ${fmt(m(name))} | ${rows.get(name)!.map(fmt).join(" ")} | (portable ÷ this: ${
          (ours / m(name)).toFixed(2)
        }) |`,
      );
    }
  }
  line(
    "libp2p-noise XXHandshakeState only (no identity payload)",
    m(ourRow("native", "memory", 1)),
  );
  console.log(
    "(peer rows: one handshake at a time per connection; the 8-in-flight rows rerun the same peer loop)",
  );
}

if (ONLY !== "handshakes") {
  const rows = new Map<string, { size: number; rates: number[]; note: string }>();
  const add = (name: string, size: number, flow: Flow, note = "") => {
    const row = rows.get(name) ?? { size, rates: [], note };
    row.rates.push(flow.messages / flow.seconds);
    if (note) row.note = note;
    rows.set(name, row);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [size, count] of [[SMALL, SMALL_COUNT], [LARGE, LARGE_COUNT]] as const) {
      const label = size === SMALL ? "64 B" : "64 KiB";
      const ours = await ourThroughput(size, count);
      add(
        `sealroute channel over TCP, ${label}`,
        size,
        ours,
        `${ours.retries} mailbox-full retries`,
      );
      // The same channel with the synchronous AES-256-GCM the CLI installs (vault/deno.ts).
      const native = openSslAead();
      if (native) {
        installNativeAead(native);
        const fast = await ourThroughput(size, count);
        installNativeAead(undefined);
        add(
          `sealroute channel over TCP, native AEAD (${native.name}), ${label}`,
          size,
          fast,
          `${fast.retries} mailbox-full retries`,
        );
      }
      add(`libp2p-noise transport over TCP, ${label}`, size, await peerThroughput(size, count));
      add(`AES-256-GCM ceiling (64 in flight), ${label}`, size, await aesCeiling(size, count));
    }
    console.error(`throughput: round ${round + 1}/${ROUNDS} done`);
  }
  console.log(
    `\n| one way, ${SMALL_COUNT} × 64 B / ${LARGE_COUNT} × 64 KiB | msgs/s (median) | MB/s | all rounds (msgs/s) | sealroute ÷ this |`,
  );
  console.log("|---|---:|---:|---|---:|");
  for (const label of ["64 B", "64 KiB"]) {
    const ours = median(rows.get(`sealroute channel over TCP, ${label}`)!.rates);
    for (const [name, row] of rows) {
      if (!name.endsWith(`, ${label}`)) continue;
      const r = median(row.rates);
      console.log(
        `| ${name}${row.note ? ` (${row.note}, last round)` : ""} | ${fmt(r)} | ${
          (r * row.size / 1e6).toFixed(1)
        } | ${row.rates.map(fmt).join(" ")} | ${(ours / r).toFixed(2)} |`,
      );
    }
  }
}

if (problems.length > 0) {
  console.log(`\nnodes logged ${problems.length} warnings/errors, first: ${problems[0]}`);
}
