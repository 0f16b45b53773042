// Heap held per decoded frame, per wire byte, for the worst frames a peer can send to the
// two routed-message codecs (TCP CBOR and BARE), and for legitimate large frames.
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/decode_heap.ts [--routing=DIR]
//
// `--routing` points at another copy of routing/ (e.g. a checkout from before a change) to
// measure it the same way. Each row decodes `copies` frames and keeps every decoded message
// (and every frame) alive, then reports (heapUsed + external after − before) / (copies ×
// frame bytes) after forced full GCs: the memory decoding adds to a frame, per byte the
// frame cost the sender. A message whose payload is a view of its frame also keeps the
// frame itself alive (one more byte per byte). A frame the decoder refuses pins nothing;
// the row says so and gives the error code.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    routing: { type: "string", default: new URL("../routing", import.meta.url).pathname },
  },
});
const dir = values.routing!.replace(/\/$/, "");
const tcp = await import(`${dir}/tcp_codec.ts`);
const bare = await import(`${dir}/transport_message_codec.ts`);
const decodeTcp = tcp.decodeTcpMessage as (bytes: Uint8Array) => unknown;
const decodeBare = bare.decodeTransportMessage as (bytes: Uint8Array) => unknown;
const ownedBytes = tcp.ownedBytes as (bytes: Uint8Array) => Uint8Array;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

const MiB = 1024 * 1024;

async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc!();
  }
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

// CBOR helpers (RFC 8949 §3.1, shortest heads as minicbor writes them).
function head(major: number, n: number): number[] {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 0xff];
  return [m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

// A TCP body [onward, return, payload] whose return route holds `count` addresses of
// `valueLength` bytes (3 + valueLength bytes each for short values) and a payload filling
// the rest up to `size` bytes.
function tcpFrame(count: number, valueLength: number, size: number): Uint8Array {
  const address = [0x82, 0x00, ...head(2, valueLength), ...new Array(valueLength).fill(0x61)];
  const parts: number[] = [0x83, 0x81, ...address, ...head(4, count)];
  const out = new Uint8Array(size);
  out.set(parts);
  let at = parts.length;
  const a = Uint8Array.from(address);
  for (let i = 0; i < count; i++, at += a.length) out.set(a, at);
  const rest = size - at;
  let k = 1;
  while (head(2, rest - k).length !== k) k++;
  out.set(head(2, rest - k), at);
  return out;
}

// A BARE TransportMessage v1 with `count` return addresses of `valueLength` bytes and a
// payload filling the rest.
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function bareFrame(count: number, valueLength: number, size: number): Uint8Array {
  const address = [0x00, ...varint(valueLength), ...new Array(valueLength).fill(0x61)];
  const parts = [1, 1, ...address, ...varint(count)];
  const out = new Uint8Array(size);
  out.set(parts);
  let at = parts.length;
  const a = Uint8Array.from(address);
  for (let i = 0; i < count; i++, at += a.length) out.set(a, at);
  const rest = size - at - 1; // the trailing 0x00 option byte
  let k = 1;
  while (varint(rest - k).length !== k) k++;
  out.set(varint(rest - k), at);
  out[size - 1] = 0;
  return out;
}

interface Row {
  codec: string;
  frame: string;
  bytes: number;
  copies: number;
  perByte: string;
  perFrame: string;
}

async function measure(
  codec: string,
  frame: string,
  make: () => Uint8Array,
  decode: (bytes: Uint8Array) => unknown,
  copies: number,
): Promise<Row> {
  const frames = Array.from({ length: copies }, make);
  const bytes = frames[0]!.length;
  const kept: unknown[] = [];
  const before = await settle();
  let refused = "";
  const start = performance.now();
  for (const f of frames) {
    try {
      kept.push(decode(f));
    } catch (error) {
      refused = (error as { code?: string }).code ?? String(error);
    }
  }
  const ms = (performance.now() - start) / copies;
  // The frames stay alive throughout, so `held` is what decoding added to them.
  const after = await settle();
  const held = Math.max(0, after - before);
  kept.length = 0;
  frames.length = 0;
  const perFrame = held / copies;
  return {
    codec,
    frame,
    bytes,
    copies,
    perByte: refused ? `refused (${refused})` : (perFrame / bytes).toFixed(2),
    perFrame: `${fmt(perFrame)} (${ms.toFixed(1)} ms)`,
  };
}

function fmt(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

type Case = [codec: "TCP" | "BARE", frame: string, make: () => Uint8Array, copies: number];
const big = 16 * MiB - 64;
const cases: Case[] = [
  // The attack: a frame of empty addresses (3 bytes each on TCP, 2 on BARE).
  ["TCP", "16 MiB of 3-byte addresses", () => tcpFrame(Math.floor(big / 3) - 8, 0, big), 1],
  ["BARE", "16 MiB of 2-byte addresses", () => bareFrame(Math.floor(big / 2) - 8, 0, big), 1],
  // The worst frames the default bounds still accept: full routes of empty and of 1-byte
  // addresses (most objects per byte), and full routes of 1 KiB addresses.
  ["TCP", "64 + 1 empty addresses", () => tcpFrame(64, 0, 300), 2000],
  ["BARE", "64 + 1 empty addresses", () => bareFrame(64, 0, 300), 2000],
  ["TCP", "64 + 1 addresses of 1 byte", () => tcpFrame(64, 1, 300), 2000],
  ["BARE", "64 + 1 addresses of 1 byte", () => bareFrame(64, 1, 300), 2000],
  ["TCP", "64 + 1 addresses of 1 KiB", () => tcpFrame(64, 1024, 70_000), 200],
  ["BARE", "64 + 1 addresses of 1 KiB", () => bareFrame(64, 1024, 70_000), 200],
  // Legitimate traffic: one address each way and a large or a small payload.
  ["TCP", "16 MiB payload (plain buffer)", () => tcpFrame(0, 4, big), 4],
  ["TCP", "16 MiB payload (owned frame)", () => ownedBytes(tcpFrame(0, 4, big)), 4],
  ["BARE", "16 MiB payload", () => bareFrame(0, 4, big), 4],
  ["TCP", "32-byte addresses, 64 B payload", () => tcpFrame(1, 32, 170), 20_000],
];
const rows: Row[] = [];
for (const [codec, frame, make, copies] of cases) {
  rows.push(await measure(codec, frame, make, codec === "TCP" ? decodeTcp : decodeBare, copies));
}

console.log(`routing from ${dir}\n`);
console.log(
  "| codec | frame | wire bytes | frames | heap per wire byte | heap per frame (decode time) |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.codec} | ${r.frame} | ${
      r.bytes.toLocaleString("en")
    } | ${r.copies} | ${r.perByte} | ${r.perFrame} |`,
  );
}
