/**
 * One end-to-end scenario that every runtime runs unchanged: Deno (from source), Node 20,
 * Bun, Chromium and workerd (from the ESM build in `dist/`). It imports only the portable
 * modules, so the same code proves the same things everywhere:
 *
 * 1. vault known answers with WebCrypto where the runtime has it: X25519 (RFC 7748 §6.1),
 *    Ed25519 (RFC 8032 §7.1 TEST 1), AES-256-GCM (GCM spec test case 14), SHA-256("abc");
 *    the noble fallback must be loaded exactly when WebCrypto lacks X25519 or Ed25519;
 * 2. identities: an authority issues a credential, which verifies; still no noble unless
 *    the runtime needed it in step 1;
 * 3. X448 (RFC 7748 §6.2): served by WebCrypto where the runtime has it, else by the noble
 *    fallback, which must then be loaded;
 * 4. a secure channel between two nodes joined by an in-memory duplex: mutual
 *    authentication, a credential-gated worker, 80 transport messages (two rekeys);
 * 5. when a hub is given (see `hub.ts`): a secure channel over WebSocket through the hub's
 *    relay to its device node, 40 messages.
 *
 * Any failure throws a {@linkcode ScenarioError}; success returns a {@linkcode ScenarioReport}.
 *
 * @module
 */
import {
  abacAccessControl,
  createSecureChannel,
  createSecureChannelListener,
  type SecureChannel,
} from "../../channel/mod.ts";
import {
  createIdentity,
  issueCredential,
  type LocalIdentity,
  trustIdentifiers,
  verifyCredential,
} from "../../identity/mod.ts";
import { Node, startEcho } from "../../routing/mod.ts";
import { attachDuplex, connectWebSocket, memoryDuplexPair } from "../../transport/mod.ts";
import {
  digest,
  importAeadKey,
  importKeyAgreementKey,
  importSigningKey,
  isNobleLoaded,
  Vault,
  verifySignature,
  webCryptoSupports,
} from "../../vault/mod.ts";
import x25519Vectors from "../../vault/testdata/x25519.json" with {
  type: "json",
};
import x448Vectors from "../../vault/testdata/x448.json" with { type: "json" };
import ed25519Vectors from "../../vault/testdata/ed25519.json" with {
  type: "json",
};
import aesGcmVectors from "../../vault/testdata/aes_256_gcm.json" with {
  type: "json",
};
import hashVectors from "../../vault/testdata/hashes.json" with {
  type: "json",
};

/** Where the WebSocket part connects: printed by `hub.ts`. */
export interface HubInfo {
  /** `ws://127.0.0.1:<port>` of the relay node. */
  url: string;
  /** Address of the device's relay on the relay node, e.g. `forward_to_device`. */
  relay: string;
  /** Identifier of the device's identity (the channel trusts only it). */
  device: string;
  /** `127.0.0.1:<port>` where the relay node listens for Ockam TCP (see `tcp_scenario.ts`). */
  tcp?: string;
}

/** Options for {@linkcode runScenario}. */
export interface ScenarioOptions {
  /** Name of the runtime, copied into the report. */
  runtime: string;
  /** Runs the WebSocket part against this hub; omitted, that part is skipped. */
  hub?: HubInfo;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** What a run proved. */
export interface ScenarioReport {
  runtime: string;
  /** Which algorithms this runtime's WebCrypto implements. */
  webCrypto: { X25519: boolean; Ed25519: boolean; X448: boolean };
  /** `isNobleLoaded()` after each step; each was checked against `webCrypto`. */
  noble: {
    afterCoreVectors: boolean;
    afterIdentity: boolean;
    afterX448: boolean;
    afterChannel: boolean;
  };
  /** Names of the vectors that matched. */
  vectors: string[];
  /** The in-memory channel: messages exchanged after the handshake. */
  memoryChannel: { messages: number; credentialGate: "accepted" };
  /** The WebSocket channel through the relay, or `"skipped"` without a hub. */
  websocketChannel: { messages: number; relay: string } | "skipped";
}

/** A check of the scenario failed. */
export class ScenarioError extends Error {
  override name = "ScenarioError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new ScenarioError(what);
}

function expectHex(actual: Uint8Array, expected: string, what: string): void {
  const hex = toHex(actual);
  check(hex === expected, `${what}: expected ${expected}, got ${hex}`);
}

function expectNoble(expected: boolean, step: string): boolean {
  const loaded = isNobleLoaded();
  check(
    loaded === expected,
    `noble fallback after ${step}: expected ${expected ? "loaded" : "not loaded"}, ` +
      `isNobleLoaded() is ${loaded}`,
  );
  return loaded;
}

/** Runs the scenario; throws a {@linkcode ScenarioError} (or the library's error) on failure. */
export async function runScenario(
  options: ScenarioOptions,
): Promise<ScenarioReport> {
  const log = options.log ?? (() => {});
  check(!isNobleLoaded(), "noble fallback loaded before the scenario started");
  const webCrypto = {
    X25519: await webCryptoSupports("X25519"),
    Ed25519: await webCryptoSupports("Ed25519"),
    X448: await webCryptoSupports("X448"),
  };
  log(`WebCrypto: ${JSON.stringify(webCrypto)}`);
  const vectors: string[] = [];

  // 1. Known answers through the vault's default (WebCrypto-first) backends.
  const dh = x25519Vectors.diffieHellman;
  const alice = await importKeyAgreementKey("X25519", fromHex(dh.alicePrivate));
  expectHex(alice.publicKey, dh.alicePublic, "X25519 Alice public key");
  expectHex(
    await alice.deriveSharedSecret(fromHex(dh.bobPublic)),
    dh.shared,
    "X25519 shared",
  );
  vectors.push(dh.name);

  const ed = ed25519Vectors.vectors[0]!;
  const signer = await importSigningKey("Ed25519", fromHex(ed.secretKey));
  expectHex(signer.publicKey, ed.publicKey, `${ed.name} public key`);
  const message = fromHex(ed.message);
  expectHex(await signer.sign(message), ed.signature, `${ed.name} signature`);
  check(
    await verifySignature(
      "Ed25519",
      signer.publicKey,
      message,
      fromHex(ed.signature),
    ),
    `${ed.name}: the signature did not verify`,
  );
  const forged = fromHex(ed.signature);
  forged[0]! ^= 1;
  check(
    !await verifySignature("Ed25519", signer.publicKey, message, forged),
    `${ed.name}: a changed signature verified`,
  );
  vectors.push(ed.name);

  const gcm = aesGcmVectors.vectors.find((v) => v.name.endsWith("Test Case 14"))!;
  const aes = await importAeadKey("AES-256-GCM", fromHex(gcm.key));
  const sealed = await aes.seal(
    fromHex(gcm.iv),
    fromHex(gcm.plaintext),
    fromHex(gcm.aad),
  );
  expectHex(sealed, gcm.ciphertext + gcm.tag, gcm.name);
  expectHex(
    await aes.open(fromHex(gcm.iv), sealed, fromHex(gcm.aad)),
    gcm.plaintext,
    gcm.name,
  );
  vectors.push(gcm.name);

  const sha = hashVectors.vectors.find((v) => v.hash === "SHA256")!;
  expectHex(await digest("SHA256", fromHex(sha.message)), sha.digest, sha.name);
  vectors.push(sha.name);

  const afterCoreVectors = expectNoble(
    !(webCrypto.X25519 && webCrypto.Ed25519),
    "X25519, Ed25519, AES-256-GCM and SHA-256",
  );
  log(`vectors: ${vectors.join("; ")}`);

  // 2. Identities and a credential.
  const authority = await createIdentity(new Vault());
  const device = await createIdentity(new Vault());
  const operator = await createIdentity(new Vault());
  const credential = await issueCredential({
    issuer: authority,
    subject: operator.identity,
    attributes: { role: "operator" },
  });
  const verified = await verifyCredential(credential, {
    authorities: [authority.identity],
    subject: operator.identifier,
  });
  check(
    verified.issuer === authority.identifier &&
      decoder.decode(verified.attributes.role) === "operator",
    "credential: issuer or attributes do not match",
  );
  await operator.addCredential(credential);
  const afterIdentity = expectNoble(
    afterCoreVectors,
    "identities and a credential",
  );
  log(
    `identity: ${operator.identifier.slice(0, 17)}… holds role=operator from the authority`,
  );

  // 3. X448: WebCrypto where the runtime has it, otherwise the lazily loaded fallback.
  const dh448 = x448Vectors.diffieHellman;
  const alice448 = await importKeyAgreementKey(
    "X448",
    fromHex(dh448.alicePrivate),
  );
  expectHex(alice448.publicKey, dh448.alicePublic, "X448 Alice public key");
  expectHex(
    await alice448.deriveSharedSecret(fromHex(dh448.bobPublic)),
    dh448.shared,
    "X448 shared",
  );
  vectors.push(dh448.name);
  const afterX448 = expectNoble(afterIdentity || !webCrypto.X448, "X448");

  // 4. A secure channel over an in-memory duplex.
  const memoryMessages = await memoryChannel(authority, device, operator);
  // The Noise handshake hashes with @noble/hashes (a chunk of its own), never with the
  // curve fallback: a channel loads the fallback no more than the steps before it did.
  const afterChannel = expectNoble(afterX448, "secure channel");
  log(
    `in-memory channel: ${memoryMessages} messages, credential-gated worker accepted`,
  );

  // 5. Over WebSocket, through the hub's relay.
  let websocketChannel: ScenarioReport["websocketChannel"] = "skipped";
  if (options.hub) {
    websocketChannel = await relayedChannel(options.hub);
    log(
      `WebSocket channel via ${options.hub.relay}: ${websocketChannel.messages} messages`,
    );
  }

  return {
    runtime: options.runtime,
    webCrypto,
    noble: { afterCoreVectors, afterIdentity, afterX448, afterChannel },
    vectors,
    memoryChannel: { messages: memoryMessages, credentialGate: "accepted" },
    websocketChannel,
  };
}

/** Sends `count` numbered payloads to the peer's echo through `channel`; checks each reply. */
async function echoThrough(
  channel: SecureChannel,
  count: number,
  what: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const payload = encoder.encode(`${what} #${i} ` + "x".repeat(i * 7));
    const reply = await channel.request("echo", payload, { timeout: 10_000 });
    check(
      decoder.decode(reply.payload) === decoder.decode(payload),
      `${what}: echo reply ${i} does not match`,
    );
  }
}

async function memoryChannel(
  authority: LocalIdentity,
  device: LocalIdentity,
  operator: LocalIdentity,
): Promise<number> {
  const client = new Node();
  const server = new Node();
  try {
    const [a, b] = memoryDuplexPair();
    const link = attachDuplex(client, a);
    const incoming = attachDuplex(server, b);
    const listener = await createSecureChannelListener(server, "api", {
      identity: device,
      authorities: [authority.identity],
      consumes: [incoming.flow],
    });
    startEcho(server, { consumes: [listener.flow] });
    server.startWorker("commands", (ctx) => ctx.reply(encoder.encode("done")), {
      incoming: abacAccessControl('(= subject.role "operator")'),
      consumes: [listener.flow],
    });
    const channel = await createSecureChannel(
      client,
      link.route.append("api"),
      {
        identity: operator,
        trustPolicy: trustIdentifiers(device.identifier),
        timeout: 10_000,
      },
    );
    check(
      channel.remoteIdentifier === device.identifier,
      `memory channel: expected peer ${device.identifier}, got ${channel.remoteIdentifier}`,
    );
    const reply = await channel.request("commands", encoder.encode("reboot"), {
      timeout: 10_000,
    });
    check(
      decoder.decode(reply.payload) === "done",
      "memory channel: the gated worker's reply",
    );
    const count = 80; // more than two rekey intervals of 32 messages
    await echoThrough(channel, count, "memory");
    await channel.close();
    return count + 1;
  } finally {
    await client.close();
    await server.close();
  }
}

async function relayedChannel(
  hub: HubInfo,
): Promise<{ messages: number; relay: string }> {
  const node = new Node();
  try {
    const me = await createIdentity(new Vault());
    const connection = await connectWebSocket(node, hub.url);
    const channel = await createSecureChannel(
      node,
      connection.route.append(hub.relay).append("api"),
      {
        identity: me,
        trustPolicy: trustIdentifiers(hub.device),
        timeout: 10_000,
      },
    );
    check(
      channel.remoteIdentifier === hub.device,
      `relayed channel: expected peer ${hub.device}, got ${channel.remoteIdentifier}`,
    );
    const count = 40;
    await echoThrough(channel, count, "websocket");
    await channel.close();
    return { messages: count, relay: hub.relay };
  } finally {
    await node.close();
  }
}
