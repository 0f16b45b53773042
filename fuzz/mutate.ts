// Input generators shared by the fuzz targets: random bytes, and valid encodings changed by
// a few mutations (bit flips, byte sets, truncations, extensions, insertions, deletions,
// splices with another seed, and bytes that sit on CBOR and varint boundaries). Each is a
// fast-check arbitrary, so a failure shrinks to a small counterexample.
import { concat } from "../_bytes.ts";
import fc from "fast-check";

/** One change to a byte string; positions are taken modulo its length. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; byte: number }
  | { kind: "truncate"; at: number }
  | { kind: "extend"; bytes: Uint8Array }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "splice"; seed: number; from: number; length: number; at: number }
  | { kind: "duplicate"; from: number; length: number; at: number };

// Bytes that change the meaning of CBOR heads (24..27 argument sizes, 31 indefinite, the
// major types of arrays/maps/tags/simple values) and of varints (continuation bits).
const BOUNDARY = [
  0x00,
  0x01,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x1b,
  0x1f,
  0x20,
  0x3f,
  0x40,
  0x5f,
  0x60,
  0x7f,
  0x80,
  0x81,
  0x82,
  0x83,
  0x84,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc2,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf9,
  0xfb,
  0xff,
];

const position = fc.nat({ max: 1 << 20 });

/** An arbitrary mutation. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant("set" as const),
    at: position,
    byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...BOUNDARY)),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({
    kind: fc.constant("extend" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: position,
    length: fc.integer({ min: 1, max: 9 }),
  }),
  fc.record({
    kind: fc.constant("splice" as const),
    seed: fc.nat(),
    from: position,
    length: fc.integer({ min: 1, max: 64 }),
    at: position,
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    from: position,
    length: fc.integer({ min: 1, max: 64 }),
    at: position,
  }),
);

/** `bytes` with `m` applied (a new array; `bytes` is left as it was). */
export function applyMutation(
  bytes: Uint8Array,
  m: Mutation,
  seeds: readonly Uint8Array[],
): Uint8Array {
  const n = bytes.length;
  const at = (i: number, room = n) => (room === 0 ? 0 : i % room);
  switch (m.kind) {
    case "flip": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[at(m.at)]! ^= 1 << m.bit;
      return out;
    }
    case "set": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[at(m.at)] = m.byte;
      return out;
    }
    case "truncate":
      return bytes.slice(0, at(m.at, n + 1));
    case "extend":
      return concat(bytes, m.bytes);
    case "insert": {
      const i = at(m.at, n + 1);
      return concat(bytes.subarray(0, i), m.bytes, bytes.subarray(i));
    }
    case "delete": {
      const i = at(m.at, n + 1);
      return concat(bytes.subarray(0, i), bytes.subarray(i + m.length));
    }
    case "splice":
    case "duplicate": {
      const source = m.kind === "splice" ? seeds[m.seed % seeds.length]! : bytes;
      const from = at(m.from, source.length);
      const piece = source.subarray(from, from + m.length);
      const i = at(m.at, n + 1);
      return concat(bytes.subarray(0, i), piece, bytes.subarray(i));
    }
  }
}

/** One to four mutations of one of `seeds`. */
export function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new RangeError("mutated() needs at least one seed");
  return fc.tuple(
    fc.nat(seeds.length - 1),
    fc.array(mutation, { minLength: 1, maxLength: 4 }),
  ).map(([index, ms]) => {
    let bytes = seeds[index]!;
    for (const m of ms) bytes = applyMutation(bytes, m, seeds);
    return bytes;
  });
}

/**
 * What most targets decode: mostly mutated seeds, some unchanged seeds (so the valid path
 * stays covered) and some random bytes (so nothing depends on starting from a seed).
 */
export function bytesFor(
  seeds: readonly Uint8Array[],
  maxRandomLength = 512,
): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: mutated(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandomLength }) },
    {
      weight: 1,
      arbitrary: fc.array(fc.constantFrom(...BOUNDARY), { maxLength: 64 }).map((a) =>
        Uint8Array.from(a)
      ),
    },
  );
}

/** Text made of `alphabet` pieces, mutated seeds, and random strings. */
export function textFor(
  seeds: readonly string[],
  alphabet: readonly string[],
): fc.Arbitrary<string> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const seedBytes = seeds.map((s) => encoder.encode(s));
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }).map((a) => a.join("")),
    },
    { weight: 3, arbitrary: mutated(seedBytes).map((b) => decoder.decode(b)) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
    { weight: 2, arbitrary: fc.string({ maxLength: 80, unit: "binary" }) },
  );
}
