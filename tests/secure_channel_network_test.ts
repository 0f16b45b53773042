// Secure channels over real sockets: TCP, WebSocket, and a multi-hop route whose middle
// node records everything it forwards.
import assert from "node:assert/strict";
import { toHex } from "../_bytes.ts";
import { TrustError } from "../errors.ts";
import {
  createSecureChannel,
  createSecureChannelListener,
  decodeChannelMessage,
  Decryptor,
  HandshakeState,
  OCKAM_XX_PROTOCOL_NAME,
} from "../channel/mod.ts";
import {
  createIdentity,
  encodeIdentityAndCredentials,
  type LocalIdentity,
} from "../identity/mod.ts";
import { type Flow, Node, startEcho } from "../routing/mod.ts";
import { connectWebSocket, useWebSocketTransport } from "../transport/mod.ts";
import { connectTcp, listenTcp, webSocketHandler } from "../transport/deno.ts";
import { generateKeyAgreementKey, MemoryKeyStore, Vault } from "../vault/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array) => new TextDecoder().decode(b);

/** A WebSocket server for `node`, with the flow its connections arrive on. */
function serveWebSocket(node: Node): Deno.HttpServer<Deno.NetAddr> & { flow: Flow } {
  const handler = webSocketHandler(node);
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return Object.assign(http, { flow: handler.flow });
}

async function identityWithSecrets(): Promise<{ identity: LocalIdentity; secrets: string[] }> {
  const store = new MemoryKeyStore();
  const identity = await createIdentity(new Vault({ store }), { persist: true });
  const channelKey = await identity.secureChannelKey({ persist: true });
  const secrets: string[] = [];
  for (const id of [identity.primaryKeyId, channelKey.keyId]) {
    const stored = await store.get(id);
    assert.ok(stored, `key ${id} was persisted`);
    secrets.push(toHex(stored.privateKey));
  }
  return { identity, secrets };
}

Deno.test("a secure channel over TCP", async () => {
  await using server = new Node();
  await using client = new Node();
  await using tcp = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [tcp.flow],
  });
  startEcho(server, { consumes: [listener.flow] });
  const link = await connectTcp(client, `127.0.0.1:${tcp.port}`);
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  assert.equal(untext((await channel.request("echo", text("over tcp"))).payload), "over tcp");
  await channel.close();
  await link.close();
});

Deno.test("a secure channel over WebSocket", async () => {
  await using server = new Node();
  await using client = new Node();
  const http = serveWebSocket(server);
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [http.flow],
  });
  startEcho(server, { consumes: [listener.flow] });
  const link = await connectWebSocket(client, `ws://127.0.0.1:${http.addr.port}`);
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  assert.equal(untext((await channel.request("echo", text("over ws"))).payload), "over ws");
  await channel.close();
  await link.close();
  await client.close();
  await server.close();
  await http.shutdown();
});

Deno.test("initiator → TCP → middle node → WebSocket → responder: the middle sees no plaintext and no secret", async () => {
  await using initiator = new Node();
  await using middle = new Node();
  await using responder = new Node();
  const alice = await identityWithSecrets();
  const bob = await identityWithSecrets();
  const seen: Uint8Array[] = [];
  // The middle node's tap is the one worker both links may reach: it bridges them.
  const outgoing = middle.flowControls.createFlow({ label: "middle's WebSocket links" });
  useWebSocketTransport(middle, { spawner: outgoing });
  await using tcp = listenTcp(middle, { hostname: "127.0.0.1", port: 0 });
  middle.startWorker("tap", async (ctx) => {
    const m = ctx.message;
    seen.push(m.payload);
    await middle.deliver(
      m.with({ onwardRoute: m.onwardRoute.popFront(), returnRoute: m.returnRoute.prepend("tap") }),
    );
  }, { consumes: [tcp.flow, outgoing] });
  const http = serveWebSocket(responder);
  const received: string[] = [];
  const listener = await createSecureChannelListener(responder, "api", {
    identity: bob.identity,
    consumes: [http.flow],
  });
  responder.startWorker("inbox", (ctx) => {
    received.push(untext(ctx.message.payload));
    return ctx.reply(text("reply: top secret too"));
  }, { consumes: [listener.flow] });
  const link = await connectTcp(initiator, `127.0.0.1:${tcp.port}`);
  const route = link.route.append("tap", `3#127.0.0.1:${http.addr.port}`, "api");
  const channel = await createSecureChannel(initiator, route, { identity: alice.identity });
  for (let i = 0; i < 20; i++) {
    const reply = await channel.request("inbox", text(`top secret telemetry ${i}`));
    assert.equal(untext(reply.payload), "reply: top secret too");
  }
  assert.equal(received.length, 20);
  assert.equal(channel.remoteIdentifier, bob.identity.identifier);
  // 3 handshake messages + 20 requests + 20 replies passed the middle node.
  assert.equal(seen.length, 43);
  const forwarded = seen.map((b) => toHex(b)).join("|");
  for (const secret of [...alice.secrets, ...bob.secrets]) {
    assert.ok(!forwarded.includes(secret), "an identity secret crossed the middle node");
  }
  const asText = seen.map((b) => new TextDecoder("latin1").decode(b)).join("|");
  assert.ok(!asText.includes("top secret"), "plaintext crossed the middle node");
  await channel.close();
  await link.close();
  await responder.close();
  await middle.close();
  await http.shutdown();
});

Deno.test("a responder refuses an attestation for another key than the Noise static key, and says so", async () => {
  await using node = new Node();
  const refused: unknown[] = [];
  await createSecureChannelListener(node, "api", {
    identity: await createIdentity(new Vault()),
    onRefused: (e) => refused.push(e),
  });
  const liar = await createIdentity(new Vault());
  const attested = await liar.createSecureChannelKey(); // attests key B ...
  const noiseKey = await generateKeyAgreementKey("X25519"); // ... but handshakes with key A
  const hs = await HandshakeState.create({
    protocolName: OCKAM_XX_PROTOCOL_NAME,
    initiator: true,
    staticKey: noiseKey,
  });
  const closed = Promise.withResolvers<string>();
  let decryptor: Decryptor | undefined;
  node.startWorker("liar", async (ctx) => {
    if (decryptor) {
      const { plaintext } = await decryptor.decrypt(ctx.message.payload);
      return closed.resolve(decodeChannelMessage(plaintext).kind);
    }
    await hs.readMessage(ctx.message.payload);
    const message3 = await hs.writeMessage(encodeIdentityAndCredentials({
      changeHistory: liar.changeHistory,
      purposeKeyAttestation: attested.attestation,
      credentials: [],
    }));
    const [, fromResponder] = await hs.split();
    decryptor = new Decryptor(fromResponder);
    await ctx.send(ctx.message.returnRoute, message3);
  });
  await node.send("api", await hs.writeMessage(new Uint8Array()), { from: "liar" });
  assert.equal(await closed.promise, "close");
  assert.ok(
    refused[0] instanceof TrustError && refused[0].code === "purpose-key-mismatch",
    String(refused[0]),
  );
});

Deno.test("a burst of 2,000 × 64 KiB through a channel over TCP arrives whole: backpressure, no drops", async () => {
  await using server = new Node();
  await using client = new Node();
  let count = 0;
  let bytes = 0;
  await using tcp = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const listener = await createSecureChannelListener(server, "api", {
    identity: await createIdentity(new Vault()),
    consumes: [tcp.flow],
  });
  server.startWorker("sink", (ctx) => {
    count++;
    bytes += ctx.message.payload.length;
  }, { consumes: [listener.flow] });
  const link = await connectTcp(client, `127.0.0.1:${tcp.port}`);
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await createIdentity(new Vault()),
  });
  const payload = new Uint8Array(64 * 1024).fill(7);
  for (let i = 0; i < 2000; i++) await channel.send("sink", payload);
  const deadline = Date.now() + 60_000;
  while (count < 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(count, 2000);
  assert.equal(bytes, 2000 * 64 * 1024);
  await channel.close();
  await link.close();
});
