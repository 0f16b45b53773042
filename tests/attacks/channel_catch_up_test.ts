// Forged far-ahead frames over real TCP (issue 12: "one forged 40-byte frame with nonce
// 2^20 − 1 sent to a decryptor stalls that channel for 4–6 s"). The responder's decryptor
// address travels in clear, so anyone with a connection to its node can send it frames.
import assert from "node:assert/strict";
import { createSecureChannel } from "../../channel/create_secure_channel.ts";
import type { SecureChannel } from "../../channel/secure_channel.ts";
import { createSecureChannelListener } from "../../channel/secure_channel_listener.ts";
import { identity, text, untext, waitFor } from "../../channel/_channel_test_util.ts";
import { startEcho } from "../../routing/echo.ts";
import type { Logger } from "../../routing/logger.ts";
import { Node } from "../../routing/node.ts";
import { connectTcp, listenTcp } from "../../transport/deno.ts";

function codeCounter(): Logger & { count(code: string): number } {
  const codes: string[] = [];
  const keep = (_: string, fields?: Record<string, unknown>) => {
    if (typeof fields?.code === "string") codes.push(fields.code);
  };
  return {
    count: (code) => codes.filter((c) => c === code).length,
    debug: keep,
    info() {},
    warn: keep,
    error: keep,
  };
}

function forgedAt(nonce: bigint): Uint8Array {
  const frame = new Uint8Array(40);
  new DataView(frame.buffer).setBigUint64(0, nonce);
  return frame;
}

async function setup() {
  const logger = codeCounter();
  const server = new Node({ logger });
  const client = new Node();
  const attacker = new Node();
  const tcp = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const accepted: SecureChannel[] = [];
  const listener = await createSecureChannelListener(server, "api", {
    identity: await identity(),
    consumes: [tcp.flow],
    onChannel: (c) => accepted.push(c),
  });
  startEcho(server, { consumes: [listener.flow] });
  const link = await connectTcp(client, `127.0.0.1:${tcp.port}`);
  const channel = await createSecureChannel(client, link.route.append("api"), {
    identity: await identity(),
  });
  await waitFor(() => accepted.length === 1);
  const evil = await connectTcp(attacker, `127.0.0.1:${tcp.port}`);
  const target = evil.route.append(accepted[0]!.remoteAddress);
  /** `count` echo requests through the channel, each answered. */
  const roundTrips = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const reply = await channel.request("echo", text(`m${i}`));
      assert.equal(untext(reply.payload), `m${i}`);
    }
  };
  return {
    logger,
    roundTrips,
    forge: (nonce: bigint) => attacker.send(target, forgedAt(nonce)),
    async [Symbol.asyncDispose]() {
      await channel.close();
      await waitFor(() => accepted[0]!.isClosed);
      await evil.close();
      await link.close();
      await tcp.close();
      await Promise.all([attacker.close(), client.close(), server.close()]);
      await new Promise((r) => setTimeout(r, 50)); // a derivation step in flight ends
    },
  };
}

Deno.test("a forged frame with nonce 2^20 - 1 over TCP does not stall the channel", async () => {
  await using t = await setup();
  await t.roundTrips(5);
  await t.forge(2n ** 20n - 1n);
  // 200 round trips cross 12 epochs while the forgery's 32,767 derivations run behind.
  await t.roundTrips(200);
  // Before, the first of these waited behind the whole derivation (4-6 s), so the forgery
  // was refused first; now they are all answered before it.
  assert.equal(t.logger.count("decrypt-failed"), 0);
  // The forgery did arrive, and is refused once the derivation reaches its epoch.
  await waitFor(() => t.logger.count("decrypt-failed") === 1, 60_000);
});

Deno.test("a thousand forged far-ahead frames are all refused while traffic flows", async () => {
  await using t = await setup();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 1000; i++) {
    await t.forge(BigInt(64 + Math.floor(random() * (2 ** 20 - 64))));
  }
  await t.roundTrips(50);
  assert.ok(t.logger.count("decrypt-failed") < 1000, "answered while the forgeries wait");
  // Each is refused once the (single, shared) derivation reaches its epoch.
  await waitFor(() => t.logger.count("decrypt-failed") === 1000, 60_000);
  assert.equal(t.logger.count("catch-up-full"), 0);
  await t.roundTrips(20);
});

Deno.test("forged frames beyond the catch-up bound are refused at once", async () => {
  await using t = await setup();
  for (let i = 0; i < 100; i++) await t.forge(2n ** 20n + 32n * BigInt(i + 1));
  await waitFor(() => t.logger.count("too-far-ahead") === 100);
  await t.roundTrips(20);
});
