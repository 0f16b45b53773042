// Every decoder and parser that reads bytes or text a peer (or a configuration file) can
// choose, as a fuzz target: an input arbitrary and a function that decodes it. A target
// passes when every case returns or throws a SealrouteError; any other throw — including
// the invariants checked here (re-encoding, framing arithmetic) — is a failure.
import { encode as cborEncode } from "cborg";
import fc from "fast-check";
import { fromHex } from "../_bytes.ts";
import { decodeChannelMessage, encodeChannelMessage } from "../channel/messages.ts";
import { decodeChannelState, encodeChannelState } from "../channel/channel_state.ts";
import { HandshakeState } from "../channel/handshake_state.ts";
import { OCKAM_XX_PROTOCOL_NAME } from "../channel/suite.ts";
import {
  abacEnvironment,
  decodeChangeData,
  decodeChangeHistory,
  decodeCredential,
  decodeCredentialData,
  decodeExpr,
  decodeIdentityAndCredentials,
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  decodeRefreshCredentials,
  decodeVersionedData,
  encodeCredential,
  encodeExpr,
  evalExpr,
  evaluateAbacPolicy,
  type Expr,
  importIdentity,
  parseBooleanExpr,
  parseExpr,
  parsePolicyText,
  printExpr,
  verifyCredential,
  verifyIdentityAndCredentials,
} from "../identity/mod.ts";
import {
  Address,
  decodeBareString,
  decodeTcpMessage,
  decodeTransportMessage,
  decodeUndeliverableNotice,
  decodeVarint,
  encodeTcpMessage,
  encodeTransportMessage,
  encodeUndeliverableNotice,
  encodeVarint,
  Route,
  RoutedMessage,
} from "../routing/mod.ts";
import { encodeFrames, FrameDecoder } from "../transport/framing.ts";
import { decodePortalMessage, encodePortalMessage } from "../portal/messages.ts";
import { decodeDeliveryFrame, encodeDeliveryFrame } from "../delivery/wire.ts";
import { Outbox } from "../delivery/_outbox.ts";
import { Reorder } from "../delivery/_reorder.ts";
import { ChannelError, SealrouteError } from "../errors.ts";
import {
  decodeApiError,
  decodeCreateToken,
  decodeOneTimeCode,
  decodeRequest,
  decodeResponse,
  decodeTicket,
  encodeApiError,
  encodeCreateToken,
  encodeOneTimeCode,
  encodeRequest,
  encodeResponse,
  encodeTicket,
} from "../authority/mod.ts";
import { bytesFor, textFor } from "./mutate.ts";
import { decodeRecord, encodeRecord } from "../fleet/jetstream_queue_store.ts";
import { parseNameRecord } from "../fleet/registry.ts";
import { type NatsLinkClient, natsLinkDuplex } from "../fleet/nats_link.ts";
import fixturesJson from "./testdata/fixtures.json" with { type: "json" };
import identityVectors from "../identity/testdata/ockam_vectors.json" with { type: "json" };
import handshakeVectors from "../channel/testdata/ockam_handshake.json" with { type: "json" };

/** One fuzz target. */
export interface Target {
  /** Name for `--target`. */
  readonly name: string;
  /** What is decoded, in a few words. */
  readonly what: string;
  /** The property, over the target's inputs; `run.ts` wraps it with the checks. */
  readonly property: (
    check: <T>(input: T, run: () => unknown) => Promise<void> | void,
  ) => fc.IProperty<[unknown]> | fc.IAsyncProperty<[unknown]>;
  /** Whether the property is asynchronous. */
  readonly async: boolean;
}

const encoder = new TextEncoder();
const fixtures = fixturesJson as Record<string, string | number>;
const hex = (name: string): Uint8Array => fromHex(fixtures[name] as string);
const clock = () => fixtures.clock as number;

function syncTarget<T>(
  name: string,
  what: string,
  input: fc.Arbitrary<T>,
  run: (input: T) => unknown,
): Target {
  return {
    name,
    what,
    async: false,
    property: (check) =>
      fc.property(input as fc.Arbitrary<unknown>, (x) => {
        check(x, () => run(x as T));
      }),
  };
}

function asyncTarget<T>(
  name: string,
  what: string,
  input: fc.Arbitrary<T>,
  run: (input: T) => Promise<unknown>,
): Target {
  return {
    name,
    what,
    async: true,
    property: (check) =>
      fc.asyncProperty(input as fc.Arbitrary<unknown>, async (x) => {
        await check(x, () => run(x as T));
      }),
  };
}

// The value of `f`, or the typed error it threw; anything else is rethrown (a failure).
function attempt(f: () => unknown): unknown {
  try {
    return f();
  } catch (error) {
    if (error instanceof SealrouteError) return error;
    throw error;
  }
}

// Portal messages as JSON for comparison (byte arrays as plain arrays).
function portalJson(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

function fail(message: string): never {
  throw new Error(`invariant broken: ${message}`);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameMessage(a: RoutedMessage, b: RoutedMessage): boolean {
  return a.onwardRoute.equals(b.onwardRoute) && a.returnRoute.equals(b.returnRoute) &&
    equalBytes(a.payload, b.payload);
}

// ---- seeds ----

const routes = [
  Route.EMPTY,
  Route.from("echo"),
  Route.from("1#127.0.0.1:4000", "0123456789abcdef0123456789abcdef"),
  new Route(Array.from({ length: 64 }, (_, i) => new Address(i % 4, `hop-${i}`))),
  new Route([new Address(255, new Uint8Array(1024).fill(0x61)), new Address(0, new Uint8Array())]),
];
const messages = [
  new RoutedMessage({ onwardRoute: routes[1]!, payload: new Uint8Array() }),
  new RoutedMessage({
    onwardRoute: routes[2]!,
    returnRoute: routes[1]!,
    payload: encoder.encode("hello"),
  }),
  new RoutedMessage({
    onwardRoute: routes[3]!,
    returnRoute: routes[4]!,
    payload: new Uint8Array(300),
  }),
  new RoutedMessage({
    onwardRoute: routes[0]!,
    returnRoute: routes[3]!,
    payload: new Uint8Array(40),
  }),
];
const tcpSeeds = [
  ...messages.map((m) => encodeTcpMessage(m)),
  // With a tracing context (Ockam always sends one), text and null.
  cborEncode([[[0, encoder.encode("echo")]], [], Uint8Array.of(1), '{"traceparent":"00-1-2-01"}']),
  fromHex("84808040f6"),
];
const bareSeeds = [
  ...messages.map((m) => encodeTransportMessage(m)),
  Uint8Array.from([2, 0, 0, 0, 0]),
  Uint8Array.from([1, 1, 0, 1, 0x61, 0, 1, 7, 1, 2, 0x7b, 0x7d]),
];

const history = identityVectors.histories.map((h) => fromHex(h.changeHistory));
const ockamRefresh = fromHex(identityVectors.refreshCredentials.message).subarray(4, -1);
const exprSeeds = identityVectors.exprs.vectors.map((v) => fromHex(v.cbor));

const policyTexts = [
  '(= subject.role "operator")',
  '(and (= resource.trust_context_id subject.trust_context_id) (= subject.ockam-role "enroller"))',
  '(member? subject.identifier ["Iab" "Icd"])',
  "(or (not (= subject.a 1)) (< 1 2.5 1e3 -0x10) (exists? subject.b) (if true false true))",
  "admin or (member and not banned)",
  ';; comment\n(not (; block ;) (!= "\\u{1F600}\\41" "x"))',
  "(> [1 2] [1 3] [nan inf])",
  "= 1 1",
];
const policyAlphabet = [
  "(",
  ")",
  "[",
  "]",
  '"',
  " ",
  "\\",
  ";",
  "a",
  "1",
  ".",
  "e",
  "-",
  "_",
  "=",
  "<",
  ">",
  "!=",
  "and",
  "or",
  "not",
  "if",
  "member?",
  "exists?",
  "subject.role",
  "true",
  "0x",
  "nan",
  "inf",
  "\\u{",
  "}",
  "$",
  "\n",
  "(;",
  ";)",
  ";;",
];
const routeAlphabet = [
  "=>",
  " ",
  "#",
  "0",
  "1",
  "3",
  "255",
  "256",
  "a",
  "echo",
  ":",
  "127.0.0.1:4000",
  "\t",
  "é",
  "\u0000",
  "=",
  ">",
];

// ---- handshake fixtures: Ockam's keys, this project's payloads ----

const keys = handshakeVectors.cases[0]!;
const payloadR = hex("identityAndCredentials");
const payloadI = hex("identityAndCredentials").slice();
payloadI[payloadI.length - 1]! ^= 1; // a different payload for message 3

function initiator(): Promise<HandshakeState> {
  return HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: true,
    staticKey: fromHex(keys.initiator_static),
    ephemeralKey: fromHex(keys.initiator_ephemeral),
  });
}

function responder(): Promise<HandshakeState> {
  return HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: false,
    staticKey: fromHex(keys.responder_static),
    ephemeralKey: fromHex(keys.responder_ephemeral),
  });
}

// ---- the targets ----

/** Every fuzz target, in the order `task fuzz` runs them. */
export async function makeTargets(): Promise<Target[]> {
  const authority = await importIdentity(hex("authorityChangeHistory"));
  const i = await initiator();
  const r = await responder();
  const m1 = await i.writeMessage();
  await r.readMessage(m1);
  const m2 = await r.writeMessage(payloadR);
  await i.readMessage(m2);
  const m3 = await i.writeMessage(payloadI);
  await r.readMessage(m3);

  const identitySeeds = [
    ...history,
    hex("authorityChangeHistory"),
    hex("rotatedChangeHistory"),
  ];
  const cborIdentitySeeds = [
    ...identitySeeds,
    hex("credential"),
    hex("purposeKeyAttestation"),
    hex("identityAndCredentials"),
    hex("refreshCredentials"),
    ockamRefresh,
  ];
  const frameSeeds = [
    encodeFrames([]),
    encodeFrames([new Uint8Array()]),
    encodeFrames(tcpSeeds.slice(0, 3)),
    encodeFrames([new Uint8Array(5000).fill(7), new Uint8Array(3)]),
  ];
  const channelSeeds = [
    encodeChannelMessage({ kind: "payload", message: messages[1]! }),
    encodeChannelMessage({ kind: "payload", message: messages[2]! }),
    encodeChannelMessage({ kind: "refresh-credentials", body: hex("refreshCredentials") }),
    encodeChannelMessage({ kind: "close" }),
    fromHex(identityVectors.refreshCredentials.message),
  ];
  // A persisted channel state (issue 14): its body without the checksum, which the target
  // recomputes over each mutated body so the parser itself is reached.
  const stateRecord = await encodeChannelState({
    role: "responder",
    cipher: "AESGCM",
    identifier: "I" + "ab".repeat(32),
    listener: Address.local("api"),
    encryptorAddress: Address.random(),
    decryptorAddress: Address.random(),
    route: routes[2]!,
    peer: { identifier: "I" + "cd".repeat(32), attributes: { role: encoder.encode("operator") } },
    send: { epoch: 4, key: new Uint8Array(32).fill(1) },
    receive: { epoch: 2, key: new Uint8Array(32).fill(2), floor: 70 },
  });
  const stateSeeds = [stateRecord.subarray(32), encoder.encode("{}"), new Uint8Array()];
  const subject = abacEnvironment({
    identifier: "I" + "ab".repeat(32),
    attributes: { role: encoder.encode("operator"), "ockam-role": encoder.encode("enroller") },
    environment: { "resource.trust_context_id": { type: "str", value: "x" } },
  });

  return [
    asyncTarget(
      "channel-state",
      "decodeChannelState (a resumable channel's persisted record), checksum recomputed",
      bytesFor(stateSeeds, 600),
      async (body) => {
        const record = new Uint8Array(32 + body.length);
        record.set(new Uint8Array(await crypto.subtle.digest("SHA-256", body.slice())));
        record.set(body, 32);
        try {
          return await decodeChannelState(record);
        } catch (error) {
          // Typed, and never quoting the record (it holds keys).
          if (!(error instanceof ChannelError) || error.code !== "corrupt-state") throw error;
          if (error.message.length > 120) fail("the error quotes the record");
          throw error;
        }
      },
    ),
    syncTarget(
      "transport-frames",
      "FrameDecoder (u32 length-prefixed frames), bytes split into chunks",
      fc.tuple(bytesFor(frameSeeds, 600), fc.array(fc.nat(700), { maxLength: 6 })),
      ([bytes, cuts]) => {
        const decoder = new FrameDecoder({ maxFrameSize: 65_536 });
        const frames: Uint8Array[] = [];
        let at = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
          const end = Math.min(Math.max(cut, at), bytes.length);
          for (const f of decoder.push(bytes.subarray(at, end))) frames.push(f.slice());
          at = end;
        }
        // Whatever was returned is exactly a prefix of the input; finish() refuses the
        // rest, if any (a cut-off frame), and accepts an input that ended on a boundary.
        const framed = encodeFrames(frames);
        if (!equalBytes(framed, bytes.subarray(0, framed.length))) fail("frames differ");
        if (framed.length === bytes.length) decoder.finish();
        else if (attempt(() => decoder.finish()) === undefined) fail("finish() kept a cut frame");
        return frames;
      },
    ),
    syncTarget(
      "tcp-message",
      "decodeTcpMessage (CBOR routed message)",
      bytesFor(tcpSeeds),
      (bytes) => {
        const m = decodeTcpMessage(bytes);
        // Decoding is canonical: without a tracing context the bytes re-encode exactly.
        if (bytes[0] === 0x83 && !equalBytes(encodeTcpMessage(m), bytes)) fail("re-encoding");
        return m;
      },
    ),
    syncTarget(
      "bare-message",
      "decodeTransportMessage (BARE routed message)",
      bytesFor(bareSeeds),
      (bytes) => {
        const m = decodeTransportMessage(bytes);
        if (!sameMessage(decodeTransportMessage(encodeTransportMessage(m)), m)) fail("round trip");
        return m;
      },
    ),
    syncTarget(
      "bare-primitives",
      "decodeVarint and decodeBareString",
      bytesFor([
        Uint8Array.from([0xac, 0x02]),
        Uint8Array.from([8, ...encoder.encode("register")]),
        Uint8Array.from([...new Array(9).fill(0xff), 1]),
      ], 24),
      (bytes) => [attempt(() => decodeVarint(bytes)), decodeBareString(bytes)],
    ),
    syncTarget(
      "undeliverable-notice",
      "decodeUndeliverableNotice (BARE, Sealroute's unknown-address answer)",
      bytesFor([
        encodeUndeliverableNotice({
          code: "unknown-address",
          address: Address.local("forward_to_nosuch"),
          waiting: routes[2]!,
        }),
        encodeUndeliverableNotice({
          code: "unknown-address",
          address: new Address(255, new Uint8Array(300).fill(0x61)),
          waiting: Route.from("initiator"),
        }),
      ]),
      (bytes) => {
        const notice = decodeUndeliverableNotice(bytes);
        if (!equalBytes(encodeUndeliverableNotice(notice), bytes)) fail("re-encoding");
        return notice;
      },
    ),
    syncTarget(
      "route-text",
      "Route.parse and Address.parse",
      textFor(["1#127.0.0.1:4000 => echo", " a=>  3#h:1 ", "0#x => 255#y", "a"], routeAlphabet),
      (text) => {
        const address = attempt(() => Address.parse(text));
        if (address instanceof Address && !Address.parse(address.toString()).equals(address)) {
          fail("address text round trip");
        }
        const route = Route.parse(text);
        // The text form parses back to the route, unless a value starts or ends with
        // white space after its `#` (kept, then trimmed when parsed again, as in Ockam).
        const trimmed = route.toArray().every((a) => a.toString() === a.toString().trim());
        if (trimmed && !Route.parse(route.toString()).equals(route)) fail("route text round trip");
        return route;
      },
    ),
    asyncTarget(
      "handshake-message-1",
      "HandshakeState.readMessage on a responder waiting for message 1",
      bytesFor([m1, m1.slice(0, 16), new Uint8Array(64)], 100),
      async (bytes) => await (await responder()).readMessage(bytes),
    ),
    asyncTarget(
      "handshake-message-2",
      "HandshakeState.readMessage on an initiator waiting for message 2",
      bytesFor([m2], 200),
      async (bytes) => {
        const hs = await initiator();
        await hs.writeMessage();
        return await hs.readMessage(bytes);
      },
    ),
    asyncTarget(
      "handshake-message-3",
      "HandshakeState.readMessage on a responder waiting for message 3",
      bytesFor([m3], 200),
      async (bytes) => {
        const hs = await responder();
        await hs.readMessage(m1);
        await hs.writeMessage(payloadR);
        return await hs.readMessage(bytes);
      },
    ),
    asyncTarget(
      "handshake-out-of-turn",
      "HandshakeState.readMessage in every other state (writer's turn, complete, failed)",
      fc.tuple(fc.nat(4), bytesFor([m1, m2, m3], 100)),
      async ([state, bytes]) => {
        const hs = state % 2 === 0 ? await initiator() : await responder();
        if (state === 1 || state === 3) await hs.readMessage(m1); // responder's turn to write
        if (state === 2) { // complete initiator
          await hs.writeMessage();
          await hs.readMessage(m2);
          await hs.writeMessage(payloadI);
        }
        if (state === 3) { // complete responder
          await hs.writeMessage(payloadR);
          await hs.readMessage(m3);
        }
        if (state === 4) await hs.readMessage(m1).catch(() => {}); // failed initiator
        return await hs.readMessage(bytes);
      },
    ),
    syncTarget(
      "identity-and-credentials",
      "decodeIdentityAndCredentials (handshake payload of messages 2 and 3)",
      bytesFor(cborIdentitySeeds.slice(-4)),
      (bytes) => decodeIdentityAndCredentials(bytes),
    ),
    asyncTarget(
      "verify-identity-and-credentials",
      "verifyIdentityAndCredentials (decode, history, attestation, credentials)",
      bytesFor([hex("identityAndCredentials")]),
      async (bytes) =>
        await verifyIdentityAndCredentials(bytes, {
          remoteStaticKey: hex("remoteStaticKey"),
          authorities: [authority],
          clock,
        }),
    ),
    syncTarget(
      "refresh-credentials",
      "decodeRefreshCredentials",
      bytesFor([hex("refreshCredentials"), ockamRefresh]),
      (bytes) => decodeRefreshCredentials(bytes),
    ),
    syncTarget(
      "channel-plaintext",
      "decodeChannelMessage (secure channel plaintext), then its RefreshCredentials body",
      bytesFor(channelSeeds),
      (bytes) => {
        const m = decodeChannelMessage(bytes);
        if (m.kind === "refresh-credentials") decodeRefreshCredentials(m.body);
        return m;
      },
    ),
    syncTarget(
      "change-history",
      "decodeChangeHistory, then decodeChangeData of each change",
      bytesFor(identitySeeds),
      (bytes) => {
        const changes = decodeChangeHistory(bytes);
        for (const c of changes) decodeChangeData(c.data);
        return changes;
      },
    ),
    asyncTarget(
      "import-identity",
      "importIdentity (decode and verify a change history)",
      bytesFor(identitySeeds),
      async (bytes) => await importIdentity(bytes),
    ),
    syncTarget(
      "purpose-key-attestation",
      "decodePurposeKeyAttestation, then its data",
      bytesFor([hex("purposeKeyAttestation")]),
      (bytes) => decodePurposeKeyAttestationData(decodePurposeKeyAttestation(bytes).data),
    ),
    syncTarget(
      "credential",
      "decodeCredential, then decodeCredentialData",
      bytesFor([
        hex("credential"),
        ...decodeRefreshCredentials(ockamRefresh).credentials.map(encodeCredential),
      ]),
      (bytes) => decodeCredentialData(decodeCredential(bytes).credential.data),
    ),
    asyncTarget(
      "verify-credential",
      "verifyCredential against the fixture authority",
      bytesFor([hex("credential")]),
      async (bytes) => await verifyCredential(bytes, { authorities: [authority], clock }),
    ),
    syncTarget(
      "versioned-data",
      "decodeVersionedData (the signed envelope of changes, attestations, credentials)",
      bytesFor([
        ...identitySeeds.flatMap((h) => decodeChangeHistory(h).map((c) => c.data)),
        decodeCredential(hex("credential")).credential.data,
        decodeCredential(hex("credential")).purposeKeyAttestation.data,
        decodePurposeKeyAttestation(hex("purposeKeyAttestation")).data,
      ]),
      (bytes) => decodeVersionedData(bytes),
    ),
    syncTarget(
      "abac-text",
      "parseExpr, parseBooleanExpr, parsePolicyText, then evalExpr of what parses",
      textFor(policyTexts, policyAlphabet),
      (text) => {
        attempt(() => parseExpr(text));
        attempt(() => parseBooleanExpr(text));
        const expr = parsePolicyText(text);
        attempt(() => parseExpr(printExpr(expr)));
        evaluateAbacPolicy(expr, { identifier: "I" });
        return evalExpr(expr, subject);
      },
    ),
    syncTarget(
      "abac-cbor",
      "decodeExpr (CBOR policy expression), then evalExpr",
      bytesFor([
        ...exprSeeds,
        encodeExpr(parsePolicyText(policyTexts[3]!)),
        encodeExpr(parsePolicyText(policyTexts[6]!)),
      ]),
      (bytes) => {
        const expr: Expr = decodeExpr(bytes);
        if (printExpr(decodeExpr(encodeExpr(expr))) !== printExpr(expr)) fail("re-encoding");
        return evalExpr(expr, subject);
      },
    ),
    syncTarget(
      "portal-message",
      "decodePortalMessage (Ockam's portal messages and the Sealroute extension), re-encoded",
      bytesFor([
        ...["00", "01", "02", "030568656c6c6f", "0302050501bbaa", "0302050500"].map(fromHex),
        ...["00535201808010", "0153520101", "0201", "20", "218004"].map(fromHex),
      ]),
      (bytes) => {
        const message = decodePortalMessage(bytes);
        const again = decodePortalMessage(encodePortalMessage(message));
        if (JSON.stringify(again, portalJson) !== JSON.stringify(message, portalJson)) {
          fail("portal message re-encoding");
        }
        return message;
      },
    ),
    ...authorityTargets(hex("authorityChangeHistory"), hex("credential")),
  ];
}

// The authority's envelopes and bodies (authority/WIRE.md): every decoder, and the
// re-encoding of what decodes.
function authorityTargets(history: Uint8Array, credential: Uint8Array): Target[] {
  const code = new Uint8Array(32).fill(0x5a);
  const token = encodeCreateToken({ attributes: { role: "sensor" }, ttlSecs: 600, ttlCount: 1 });
  const error = encodeApiError({ path: "/", method: "POST", message: "Unknown enrollment token" });
  const unwrap = (b: Uint8Array) => b.subarray(b[0]! < 0x80 ? 1 : 2);
  // Mutated envelopes: half with the BARE length fixed up, so the CBOR inside is reached.
  const framed = (seeds: Uint8Array[]) =>
    fc.tuple(bytesFor(seeds.map(unwrap)), fc.boolean()).map(([inner, raw]) =>
      raw ? inner : Uint8Array.from([...encodeVarint(inner.length), ...inner])
    );
  return [
    syncTarget(
      "authority-request",
      "decodeRequest (BARE-wrapped Ockam RequestHeader and body), re-encoded",
      framed([
        encodeRequest({ id: 7, path: "/", method: "POST" }, encodeOneTimeCode(code)),
        encodeRequest({ id: 0xffffffff, path: "/tokens", method: "POST" }, token),
        encodeRequest({ id: 1, path: "/credential", method: "POST" }, history),
        encodeRequest({ id: 2, path: "/" }),
      ]),
      (bytes) => {
        const { header, body } = decodeRequest(bytes);
        const again = encodeRequest(
          { id: header.id, path: header.path, ...(header.method ? { method: header.method } : {}) },
          body,
        );
        const back = decodeRequest(again);
        if (JSON.stringify(back.header) !== JSON.stringify(header)) fail("request re-encoding");
        if (!equalBytes(back.body ?? code, body ?? code)) fail("request body re-encoding");
        return header;
      },
    ),
    syncTarget(
      "authority-response",
      "decodeResponse, then decodeApiError of its body",
      framed([
        encodeResponse({ id: 1, re: 7, status: 200 }, credential),
        encodeResponse({ id: 1, re: 7, status: 403 }, error),
        encodeResponse({ id: 9, re: 0, status: 200 }),
      ]),
      (bytes) => {
        const { header, body } = decodeResponse(bytes);
        if (body) attempt(() => decodeApiError(body));
        return header;
      },
    ),
    syncTarget(
      "authority-bodies",
      "decodeOneTimeCode, decodeCreateToken, decodeApiError; re-encoded",
      bytesFor([
        encodeOneTimeCode(code),
        token,
        error,
        unwrap(encodeRequest({ id: 3, path: "/" })),
      ]),
      (bytes) => {
        const otc = attempt(() => decodeOneTimeCode(bytes));
        if (otc instanceof Uint8Array && !equalBytes(encodeOneTimeCode(otc), bytes)) {
          fail("OneTimeCode re-encoding");
        }
        const request = attempt(() => decodeCreateToken(bytes));
        if (!(request instanceof SealrouteError)) {
          encodeCreateToken(request as ReturnType<typeof decodeCreateToken>);
        }
        return decodeApiError(bytes);
      },
    ),
    syncTarget(
      "authority-ticket",
      "decodeTicket of the hex of the bytes, re-encoded",
      bytesFor([
        fromHex(encodeTicket({ code, authority: history, expiresAt: 1_700_000_000 })),
        fromHex(
          encodeTicket({ code, authority: history, expiresAt: 1, address: "127.0.0.1:4002" }),
        ),
      ]),
      (bytes) => {
        const text = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        const ticket = decodeTicket(text);
        if (decodeTicket(encodeTicket(ticket)).expiresAt !== ticket.expiresAt) {
          fail("ticket re-encoding");
        }
        return ticket;
      },
    ),
    syncTarget(
      "delivery-frames",
      "decodeDeliveryFrame (BARE, reliable delivery), then the frame applied to sender/receiver state",
      bytesFor(deliverySeeds),
      (bytes) => {
        const frame = decodeDeliveryFrame(bytes, { maxFrameBytes: 4096 });
        if (!equalBytes(encodeDeliveryFrame(frame), bytes)) fail("re-encoding");
        if (frame.type === "ack") {
          const outbox = deliveryOutbox();
          attempt(() => outbox.ack(frame, 1));
          if (outbox.count > 8 || outbox.base > outbox.next) fail("outbox bounds");
        } else if (frame.type === "data") {
          const reorder = new Reorder<null>({ window: 16, maxBytes: 1024, start: 2 });
          attempt(() => reorder.accept(frame.seq, frame.base, frame.payload, null));
          if (reorder.held > 16 || reorder.bytes > Math.max(1024, frame.payload.length)) {
            fail("receiver bounds");
          }
        }
        return frame;
      },
    ),
    syncTarget(
      "fleet-queue-record",
      "decodeRecord (a JetStream queue record: identity, time, frame), re-encoded",
      bytesFor([encodeRecord("I" + "ab".repeat(32), 1_700_000_000_000, encoder.encode("frame"))]),
      (bytes) => {
        const record = decodeRecord(bytes);
        if (record && !equalBytes(encodeRecord(record.identity, record.at, record.bytes), bytes)) {
          fail("queue record re-encoding");
        }
        return record;
      },
    ),
    syncTarget(
      "fleet-name-record",
      "parseNameRecord (a KV name record, JSON)",
      bytesFor([
        encoder.encode(JSON.stringify({ identity: "Iab", node: "relay-a", epoch: 3, at: 1 })),
      ]),
      (bytes) => {
        const record = parseNameRecord(bytes);
        if (record && (!/^[A-Za-z0-9_-]{1,64}$/.test(record.node) || record.identity === "")) {
          fail("name record accepted out of shape");
        }
        return record;
      },
    ),
    asyncTarget(
      "fleet-nats-link",
      "NATS link messages ([kind][seq u32][bytes]) fed to a link duplex, with reads",
      fc.array(bytesFor(natsLinkSeeds), { maxLength: 8 }),
      async (messages) => {
        const subs = new Map<string, (e: Error | null, m: { data: Uint8Array }) => void>();
        const bus: NatsLinkClient = {
          publish: () => {},
          subscribe: (subject, { callback }) => {
            subs.set(subject, callback);
            return { unsubscribe: () => subs.delete(subject) };
          },
        };
        const duplex = natsLinkDuplex(bus, {
          from: "a",
          to: "b",
          maxQueuedBytes: 4096,
          maxUnackedBytes: 4096,
        });
        const reader = duplex.readable.getReader();
        const inbound = subs.get("sealroute.link.b.a")!;
        let read = 0;
        const reading = (async () => {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            read += value.length;
          }
        })().catch(() => {});
        for (const data of messages) inbound(null, { data });
        await new Promise((resolve) => setTimeout(resolve, 0));
        await duplex.close().catch(() => {});
        await reading;
        if (read > messages.reduce((n, m) => n + m.length, 0)) fail("read more than was sent");
        return read;
      },
    ),
  ];
}

// NATS link messages: a hello with a session id, data at 1, an ack, a close.
const natsLinkSeeds = [
  Uint8Array.of(2, 0, 0, 0, 0, ...Array.from({ length: 16 }, (_, i) => i)),
  Uint8Array.of(0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 7),
  Uint8Array.of(4, 0, 0, 0, 1),
  Uint8Array.of(1, 0, 0, 0, 2),
];

const deliverySession = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const deliverySeeds = [
  encodeDeliveryFrame({
    type: "data",
    session: deliverySession,
    level: "exactly-once",
    base: 2,
    seq: 5,
    payload: encoder.encode("hello"),
  }),
  encodeDeliveryFrame({
    type: "data",
    session: deliverySession,
    level: "none",
    base: 0,
    seq: 300,
    payload: new Uint8Array(),
  }),
  encodeDeliveryFrame({
    type: "ack",
    session: deliverySession,
    cumulative: 3,
    window: 64,
    echo: 5,
    ranges: [[4, 6], [7, 8]],
  }),
  encodeDeliveryFrame({ type: "reset", session: deliverySession, reason: "closed" }),
];

// Eight messages, seqs 0..7, the first six sent: what a fuzzed acknowledgement lands on.
function deliveryOutbox(): Outbox {
  const outbox = new Outbox({
    maxMessages: 8,
    maxBytes: 1024,
    initialWindow: 8,
    minRto: 10,
    maxRto: 1000,
    initialRto: 100,
  });
  for (let i = 0; i < 8; i++) {
    const entry = outbox.add(new Uint8Array(4), () => {}, () => {});
    if (i < 6) outbox.sent(entry, 0);
  }
  return outbox;
}
