import assert from "node:assert/strict";
import fc from "fast-check";
import { TransportError } from "../errors.ts";
import { encodeFrames, FrameDecoder, FrameDecoderStream, FrameEncoderStream } from "./framing.ts";

function chop(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(last, p));
    last = p;
  }
  return out;
}

Deno.test("frame decoder with random chunking yields the same frames", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (frames, cuts) => {
        const decoder = new FrameDecoder();
        const got: Uint8Array[] = [];
        for (const chunk of chop(encodeFrames(frames), cuts)) {
          got.push(...decoder.push(chunk).map((f) => f.slice()));
        }
        decoder.finish();
        assert.deepEqual(got, frames);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("an oversized length is refused before allocating", () => {
  const decoder = new FrameDecoder({ maxFrameSize: 10 });
  assert.throws(
    () => decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff])),
    (e) => e instanceof TransportError && e.code === "frame-too-large",
  );
  assert.throws(() => encodeFrames([new Uint8Array(11)], { maxFrameSize: 10 }), TransportError);
});

Deno.test("frame streams round-trip and a truncated stream errors with a TransportError", async () => {
  const input = ReadableStream.from<Uint8Array | Uint8Array[]>([[
    new Uint8Array([1]),
    new Uint8Array([2, 2]),
  ], new Uint8Array(0)]);
  const frames: number[] = [];
  for await (
    const f of input.pipeThrough(new FrameEncoderStream()).pipeThrough(new FrameDecoderStream())
  ) {
    frames.push(f.length);
  }
  assert.deepEqual(frames, [1, 2, 0]);
  const truncated = ReadableStream.from([new Uint8Array([0, 0, 0, 5, 1])]).pipeThrough(
    new FrameDecoderStream(),
  );
  await assert.rejects(
    (async () => {
      for await (const _ of truncated) { /* drain */ }
    })(),
    (e) => e instanceof TransportError && e.code === "truncated-frame",
  );
});

Deno.test("a header announcing ~16 MiB followed by 1 byte reserves at most 64 KiB", () => {
  const decoder = new FrameDecoder();
  // 0x00fffff0 bytes announced (just under 16 MiB), one body byte sent.
  assert.deepEqual(decoder.push(new Uint8Array([0, 0xff, 0xff, 0xf0, 7])), []);
  assert(decoder.reserved <= 64 * 1024, `reserved ${decoder.reserved}`);
  assert.equal(decoder.buffered, 1);
  // A bare header, whole or byte by byte, allocates nothing.
  const bare = new FrameDecoder();
  assert.deepEqual(bare.push(new Uint8Array([0, 0xff, 0xff, 0xf0])), []);
  assert.equal(bare.reserved, 0);
  assert.equal(bare.buffered, 4);
  assert.throws(() => bare.finish(), (e) => e instanceof TransportError);
  assert.equal(bare.push(new Uint8Array([9])).length, 0);
  assert(bare.reserved <= 64 * 1024);
  assert.equal(bare.buffered as number, 1);
  const slow = new FrameDecoder();
  for (const b of [0, 0xff, 0xff, 0xf0]) slow.push(new Uint8Array([b]));
  assert.equal(slow.reserved, 0);
  assert.equal(slow.buffered, 4, "a bare header is a partial frame (frame timeout applies)");
  slow.push(new Uint8Array([7]));
  assert(slow.reserved <= 64 * 1024);
});

Deno.test("a partial frame's buffer grows geometrically, within twice the bytes received", () => {
  const announced = 4 * 1024 * 1024;
  const decoder = new FrameDecoder();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, announced);
  decoder.push(header);
  const chunk = new Uint8Array(10_000).fill(3);
  let received = 0;
  const sizes = new Set<number>();
  while (received + chunk.length < announced) {
    assert.deepEqual(decoder.push(chunk), []);
    received += chunk.length;
    assert.equal(decoder.buffered, received);
    assert(decoder.reserved <= Math.max(64 * 1024, 2 * received), `${decoder.reserved}`);
    assert(decoder.reserved <= announced);
    sizes.add(decoder.reserved);
  }
  // Doubling: a handful of reallocations, not one per chunk.
  assert(sizes.size <= 8, `grew ${sizes.size} times`);
  const rest = new Uint8Array(announced - received).fill(3);
  const frames = decoder.push(rest);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.length, announced);
  assert.equal(decoder.reserved, 0);
  assert.equal(decoder.frames, 1);
  decoder.finish();
});

Deno.test("`frames` counts completed frames across chunks", () => {
  const decoder = new FrameDecoder();
  const wire = encodeFrames([new Uint8Array(3), new Uint8Array(70_000), new Uint8Array(0)]);
  for (let at = 0; at < wire.length; at += 1000) decoder.push(wire.subarray(at, at + 1000));
  assert.equal(decoder.frames, 3);
  assert.equal(decoder.buffered, 0);
  decoder.finish();
});
