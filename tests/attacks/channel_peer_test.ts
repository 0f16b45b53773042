// A malicious admitted peer (issue 12: "inside a channel, any admitted peer kills the other
// side through an unhandled rejection"): a raw initiator completes a real handshake with a
// listener, then sends authenticated frames no honest encryptor would write. Every one must
// be refused with a typed, logged error, and the channel must keep carrying traffic.
import assert from "node:assert/strict";
import { encode } from "cborg";
import { Address } from "../../routing/address.ts";
import { startEcho } from "../../routing/echo.ts";
import type { Logger } from "../../routing/logger.ts";
import { Node } from "../../routing/node.ts";
import type { RoutedMessage } from "../../routing/routed_message.ts";
import { createSecureChannel } from "../../channel/create_secure_channel.ts";
import { Decryptor } from "../../channel/decryptor.ts";
import { Encryptor } from "../../channel/encryptor.ts";
import { CLOSE_BYTES, decodeChannelMessage, encodeChannelMessage } from "../../channel/messages.ts";
import type { SecureChannel } from "../../channel/secure_channel.ts";
import { createSecureChannelListener } from "../../channel/secure_channel_listener.ts";
import { startHandshake } from "../../channel/_handshake.ts";
import { identity, text, untext, waitFor } from "../../channel/_channel_test_util.ts";
import { RoutedMessage as Message } from "../../routing/routed_message.ts";
import type { LocalIdentity } from "../../identity/mod.ts";

interface Logged {
  level: string;
  message: string;
  code?: string;
}

function recordingLogger(): Logger & { entries: Logged[] } {
  const entries: Logged[] = [];
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const code = typeof fields?.code === "string" ? fields.code : undefined;
    entries.push({ level, message, ...(code ? { code } : {}) });
  };
  return { entries, debug() {}, info() {}, warn: keep("warn"), error: keep("error") };
}

/** An initiator driven by hand: completes the handshake, then sends any plaintext it likes. */
interface RawPeer {
  /** Encrypts `plaintext` as the next frame and sends it to the responder's decryptor. */
  send(plaintext: Uint8Array): Promise<void>;
  /** Sends a Payload for `destination` on the responder's node; resolves with the reply payload. */
  request(destination: string, payload: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function rawPeer(node: Node, listener: string, me: LocalIdentity): Promise<RawPeer> {
  const { hs, payload } = await startHandshake({ identity: me }, true);
  const inbox: RoutedMessage[] = [];
  const address = node.startWorker(Address.random(), (ctx) => {
    inbox.push(ctx.message);
  });
  await node.send(listener, await hs.writeMessage(new Uint8Array()), { from: address });
  await waitFor(() => inbox.length > 0);
  const message2 = inbox.shift()!;
  await hs.readMessage(message2.payload);
  const message3 = await hs.writeMessage(payload);
  const [toResponder, toInitiator] = await hs.split();
  const remote = message2.returnRoute;
  await node.send(remote, message3, { from: address });
  const encryptor = new Encryptor(toResponder);
  const decryptor = new Decryptor(toInitiator);
  const send = async (plaintext: Uint8Array) => {
    await node.send(remote, await encryptor.encrypt(plaintext), { from: address });
  };
  return {
    send,
    async request(destination, body) {
      const before = inbox.length;
      await send(encodeChannelMessage({
        kind: "payload",
        message: new Message({ onwardRoute: destination, returnRoute: "me", payload: body }),
      }));
      await waitFor(() => inbox.length > before);
      const { plaintext } = await decryptor.decrypt(inbox.pop()!.payload);
      const reply = decodeChannelMessage(plaintext);
      assert.equal(reply.kind, "payload");
      return reply.kind === "payload" ? reply.message.payload : new Uint8Array();
    },
    async close() {
      decryptor.close();
      await node.stopWorker(address);
    },
  };
}

/** `[[variant, fields], h'']`, the channel plaintext around anything. */
function plaintext(variant: number, fields: unknown[]): Uint8Array {
  return encode([[variant, fields], new Uint8Array()]);
}

const address = (name: string) => [0, new TextEncoder().encode(name)];

/** Authenticated frames an honest peer never sends, each with what it stands for. */
function hostileFrames(): [string, Uint8Array][] {
  const longRoute = Array.from({ length: 125_000 }, () => address("a"));
  // [[0, [[[[…]]]]], h''] with 5,000 arrays of one inside each other.
  const deep = new Uint8Array([
    0x82,
    0x82,
    0x00,
    0x81,
    ...new Uint8Array(5000).fill(0x81),
    0x80,
    0x40,
  ]);
  return [
    [
      "a Payload whose return route has 125k addresses",
      plaintext(0, [[[address("echo")], longRoute, new Uint8Array([1])]]),
    ],
    [
      "a Payload whose onward route has 125k addresses",
      plaintext(0, [[longRoute, [], new Uint8Array([1])]]),
    ],
    ["a Payload with an empty onward route", plaintext(0, [[[], [], new Uint8Array([1])]])],
    ["a Payload to no worker", plaintext(0, [[[address("nobody")], [], new Uint8Array([1])]])],
    [
      "a Payload with a transport type of 300",
      plaintext(0, [[[[300, new Uint8Array(1)]], [], new Uint8Array()]]),
    ],
    ["a Payload whose payload is text", plaintext(0, [[[address("echo")], [], "text"]])],
    ["a Payload with too few fields", plaintext(0, [[[address("echo")], []]])],
    ["an unknown variant", plaintext(7, [[]])],
    ["bytes that are not CBOR", new Uint8Array([0xff, 0xfe, 0x1f])],
    ["an empty plaintext", new Uint8Array()],
    ["CBOR nested 5,000 deep", deep],
    ["a RefreshCredentials that is not [history, credentials]", plaintext(1, [[1, 2, 3]])],
    ["a RefreshCredentials with a malformed history", plaintext(1, [[[1], []]])],
    ["a RefreshCredentials with an empty history", plaintext(1, [[[], []]])],
    [
      "a RefreshCredentials with credentials that are not credentials",
      plaintext(1, [[[[new Uint8Array(3), [1, new Uint8Array(64)]]], [7, 8]]]),
    ],
    ["a Close with fields", plaintext(2, [[1]])],
  ];
}

Deno.test("an admitted peer's hostile frames are refused, logged, and the channel keeps working", async () => {
  const logger = recordingLogger();
  await using node = new Node({ logger });
  const accepted: SecureChannel[] = [];
  const listener = await createSecureChannelListener(node, "api", {
    identity: await identity(),
    onChannel: (c) => accepted.push(c),
  });
  startEcho(node, { consumes: [listener.flow] });
  const peer = await rawPeer(node, "api", await identity());
  await waitFor(() => accepted.length === 1);
  assert.equal(untext(await peer.request("echo", text("before"))), "before");
  for (const [what, bytes] of hostileFrames()) {
    const logged = logger.entries.length;
    await peer.send(bytes);
    // Each is refused with a log entry; the next legitimate request still gets through.
    await waitFor(() => logger.entries.length > logged, 10_000).catch(() => {
      throw new Error(`${what}: nothing was logged`);
    });
    assert.equal(untext(await peer.request("echo", text(what))), what, what);
    assert.equal(accepted[0]!.isClosed, false, `${what} closed the channel`);
  }
  // (Routing's own flow-control refusals are logged apart, by the node.)
  const ours = logger.entries.filter((e) => e.message.startsWith("secure channel"));
  assert.ok(ours.length >= hostileFrames().length - 1);
  const untyped = ours.filter((e) => e.code === undefined);
  assert.deepEqual(untyped, [], "every refusal has a code");
  // A fresh, honest channel on the same listener works too.
  const honest = await createSecureChannel(node, "api", { identity: await identity() });
  assert.equal(untext((await honest.request("echo", text("after"))).payload), "after");
  await honest.close();
  // Close, the one frame that must end the channel, still does.
  await peer.send(CLOSE_BYTES);
  assert.equal((await accepted[0]!.closed)?.code, "closed-by-peer");
  await peer.close();
});
