/**
 * Noise handshake patterns as data: one table holding every pattern the Noise spec
 * (revision 34) names, in the spec's own arrow notation, and a parser that applies `psk`
 * modifiers (§9) to a pattern name such as `"XXpsk3"` or `"NNpsk0+psk2"`.
 *
 * @module
 */
import { HandshakeError } from "../errors.ts";

/** A token of a message pattern (Noise §7.1, §9.1). */
export type MessageToken = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk";

/** A token of a pre-message pattern (Noise §7.1): only public keys. */
export type PreMessageToken = "e" | "s";

/** A handshake pattern after modifiers: pre-messages and message token lists. */
export interface HandshakePattern {
  /** The full pattern name with modifiers, e.g. `"XXpsk3"`. */
  readonly name: string;
  /** One-way pattern (§7.4): a single message from initiator to responder. */
  readonly oneWay: boolean;
  /** Public keys of the initiator the responder knows beforehand (`-> s` before `...`). */
  readonly initiatorPreMessage: readonly PreMessageToken[];
  /** Public keys of the responder the initiator knows beforehand (`<- s` before `...`). */
  readonly responderPreMessage: readonly PreMessageToken[];
  /** Message patterns in order; even indexes are sent by the initiator. */
  readonly messages: readonly (readonly MessageToken[])[];
  /** How many `psk` tokens the pattern holds (the number of PSKs each side needs). */
  readonly pskCount: number;
}

// Noise §7.4 (one-way), §7.5 (interactive fundamental), §7.6 (deferred), written as in the
// spec: pre-messages, then "...", then messages; "->" is initiator to responder.
const TABLE: Record<string, readonly string[]> = {
  // §7.4 one-way
  N: ["<- s", "...", "-> e, es"],
  K: ["-> s", "<- s", "...", "-> e, es, ss"],
  X: ["<- s", "...", "-> e, es, s, ss"],
  // §7.5 interactive
  NN: ["-> e", "<- e, ee"],
  NK: ["<- s", "...", "-> e, es", "<- e, ee"],
  NX: ["-> e", "<- e, ee, s, es"],
  KN: ["-> s", "...", "-> e", "<- e, ee, se"],
  KK: ["-> s", "<- s", "...", "-> e, es, ss", "<- e, ee, se"],
  KX: ["-> s", "...", "-> e", "<- e, ee, se, s, es"],
  XN: ["-> e", "<- e, ee", "-> s, se"],
  XK: ["<- s", "...", "-> e, es", "<- e, ee", "-> s, se"],
  XX: ["-> e", "<- e, ee, s, es", "-> s, se"],
  IN: ["-> e, s", "<- e, ee, se"],
  IK: ["<- s", "...", "-> e, es, s, ss", "<- e, ee, se"],
  IX: ["-> e, s", "<- e, ee, se, s, es"],
  // §7.6 deferred
  NK1: ["<- s", "...", "-> e", "<- e, ee, es"],
  NX1: ["-> e", "<- e, ee, s", "-> es"],
  X1N: ["-> e", "<- e, ee", "-> s", "<- se"],
  X1K: ["<- s", "...", "-> e, es", "<- e, ee", "-> s", "<- se"],
  XK1: ["<- s", "...", "-> e", "<- e, ee, es", "-> s, se"],
  X1K1: ["<- s", "...", "-> e", "<- e, ee, es", "-> s", "<- se"],
  X1X: ["-> e", "<- e, ee, s, es", "-> s", "<- se"],
  XX1: ["-> e", "<- e, ee, s", "-> es, s, se"],
  X1X1: ["-> e", "<- e, ee, s", "-> es, s", "<- se"],
  K1N: ["-> s", "...", "-> e", "<- e, ee", "-> se"],
  K1K: ["-> s", "<- s", "...", "-> e, es", "<- e, ee", "-> se"],
  KK1: ["-> s", "<- s", "...", "-> e", "<- e, ee, se, es"],
  K1K1: ["-> s", "<- s", "...", "-> e", "<- e, ee, es", "-> se"],
  K1X: ["-> s", "...", "-> e", "<- e, ee, s, es", "-> se"],
  KX1: ["-> s", "...", "-> e", "<- e, ee, se, s", "-> es"],
  K1X1: ["-> s", "...", "-> e", "<- e, ee, s", "-> se, es"],
  I1N: ["-> e, s", "<- e, ee", "-> se"],
  I1K: ["<- s", "...", "-> e, es, s", "<- e, ee", "-> se"],
  IK1: ["<- s", "...", "-> e, s", "<- e, ee, se, es"],
  I1K1: ["<- s", "...", "-> e, s", "<- e, ee, es", "-> se"],
  I1X: ["-> e, s", "<- e, ee, s, es", "-> se"],
  IX1: ["-> e, s", "<- e, ee, se, s", "-> es"],
  I1X1: ["-> e, s", "<- e, ee, s", "-> se, es"],
};

const ONE_WAY = new Set(["N", "K", "X"]);

/**
 * Names of every base pattern in the table (§7.4, §7.5, §7.6), without modifiers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PATTERN_NAMES } from "./patterns.ts";
 * assert(PATTERN_NAMES.length === 38 && PATTERN_NAMES.includes("I1X1"));
 * ```
 */
export const PATTERN_NAMES: readonly string[] = Object.freeze(Object.keys(TABLE));

interface BasePattern {
  initiatorPreMessage: PreMessageToken[];
  responderPreMessage: PreMessageToken[];
  messages: MessageToken[][];
}

function tokens(line: string): string[] {
  return line.slice(2).split(",").map((t) => t.trim()).filter((t) => t !== "");
}

function parseBase(lines: readonly string[]): BasePattern {
  const split = lines.indexOf("...");
  const pre = split === -1 ? [] : lines.slice(0, split);
  const body = split === -1 ? lines : lines.slice(split + 1);
  const base: BasePattern = { initiatorPreMessage: [], responderPreMessage: [], messages: [] };
  for (const line of pre) {
    const list = tokens(line.slice(1)) as PreMessageToken[];
    if (line.startsWith("->")) base.initiatorPreMessage.push(...list);
    else base.responderPreMessage.push(...list);
  }
  body.forEach((line, i) => {
    // Messages alternate, starting with the initiator; the table must agree.
    if (line.startsWith("->") !== (i % 2 === 0)) throw new Error(`bad pattern line ${line}`);
    base.messages.push(tokens(line.slice(1)) as MessageToken[]);
  });
  return base;
}

const BASES = new Map<string, BasePattern>(
  Object.entries(TABLE).map(([name, lines]) => [name, parseBase(lines)]),
);
const CACHE = new Map<string, HandshakePattern>();

function unknownPattern(name: string, why: string): HandshakeError {
  return new HandshakeError("unknown-pattern", `unknown handshake pattern '${name}': ${why}`);
}

/**
 * The pattern named `name`: a base pattern from the table plus optional `psk` modifiers
 * (§9.1: `psk0` at the start of the first message, `pskN` at the end of message N),
 * joined with `+` in ascending order. Unknown names are a `HandshakeError`
 * `"unknown-pattern"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handshakePattern } from "./patterns.ts";
 * const p = handshakePattern("NNpsk0+psk2");
 * assert.deepEqual(p.messages, [["psk", "e"], ["e", "ee", "psk"]]);
 * assert(p.pskCount === 2);
 * ```
 */
export function handshakePattern(name: string): HandshakePattern {
  const cached = CACHE.get(name);
  if (cached) return cached;
  const match = /^([A-Z0-9]+?)(psk(?:0|[1-9]\d*)(?:\+psk(?:0|[1-9]\d*))*)?$/.exec(name);
  const base = match ? BASES.get(match[1]!) : undefined;
  if (!match || !base) throw unknownPattern(name, "not in the pattern table");
  const messages = base.messages.map((m) => [...m]);
  const positions = match[2] ? match[2].split("+").map((m) => Number(m.slice(3))) : [];
  let previous = -1;
  for (const n of positions) {
    if (n <= previous) throw unknownPattern(name, "psk modifiers must be distinct and ascending");
    if (n > messages.length) throw unknownPattern(name, `psk${n} exceeds the message count`);
    previous = n;
    // Noise §9.1: psk0 opens the first message; pskN closes message N.
    if (n === 0) messages[0]!.unshift("psk");
    else messages[n - 1]!.push("psk");
  }
  const pattern: HandshakePattern = Object.freeze({
    name,
    oneWay: ONE_WAY.has(match[1]!),
    initiatorPreMessage: Object.freeze([...base.initiatorPreMessage]),
    responderPreMessage: Object.freeze([...base.responderPreMessage]),
    messages: Object.freeze(messages.map((m) => Object.freeze(m))),
    pskCount: positions.length,
  });
  CACHE.set(name, pattern);
  return pattern;
}
