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
