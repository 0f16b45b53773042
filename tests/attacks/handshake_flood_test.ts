// Handshake floods over real TCP (issue 12: "`maxHandshakes` stops counting once message 2
// is sent, so handshakes waiting for message 3 are unbounded until their timeout"). An
// attacker sends thousands of Noise message 1s and never answers (or answers garbage);
// pending handshakes stay within the bound at every stage, a legitimate initiator gets a
// channel during and after the flood, and the half-open state is gone after the timeout.
import assert from "node:assert/strict";
import { createSecureChannel } from "../../channel/create_secure_channel.ts";
import { createSecureChannelListener } from "../../channel/secure_channel_listener.ts";
import { identity, text, untext, waitFor } from "../../channel/_channel_test_util.ts";
import type { SealrouteError } from "../../errors.ts";
import { startEcho } from "../../routing/echo.ts";
import { Node } from "../../routing/node.ts";
import { connectTcp, listenTcp } from "../../transport/deno.ts";

const MAX = 512;
const TIMEOUT = 2000;

async function setup() {
  const server = new Node();
  const attacker = new Node();
  const client = new Node();
  const tcp = listenTcp(server, { hostname: "127.0.0.1", port: 0 });
  const refusals = new Map<string, number>();
  const listener = await createSecureChannelListener(server, "api", {
    identity: await identity(),
    maxHandshakes: MAX,
    timeout: TIMEOUT,
    consumes: [tcp.flow],
    onRefused: (e: SealrouteError) => refusals.set(e.code, (refusals.get(e.code) ?? 0) + 1),
  });
  startEcho(server, { consumes: [listener.flow] });
  const evil = await connectTcp(attacker, `127.0.0.1:${tcp.port}`);
  const link = await connectTcp(client, `127.0.0.1:${tcp.port}`);
  const me = await identity();
  // Every connection is up: what the server runs now is the baseline a flood must return to.
  await waitFor(() => tcp.connections.size === 2);
  const baseline = server.workerAddresses().length;
  // The peak of extra workers on the server, sampled throughout: one per pending handshake,
  // besides the two (encryptor, decryptor) of each open channel.
  let peak = 0;
  const sampler = setInterval(() => {
    const open = 2 * listener.channels.size;
    peak = Math.max(peak, server.workerAddresses().length - baseline - open);
  }, 1);
  /**
   * Opens a channel as the legitimate client and checks it answers. Under a flood that
   * outpaces it, its half-open handshake may be evicted before its message 3 arrives (the
   * initiator cannot tell: its first request gets no reply), so it tries again, as a
   * client would; it must get through within a few attempts.
   */
  const legit = async (what: string) => {
    for (let attempt = 1;; attempt++) {
      const channel = await createSecureChannel(client, link.route.append("api"), {
        identity: me,
        timeout: 5000,
      }).catch((error) => {
        if (attempt >= 5) throw error;
        return undefined;
      });
      if (!channel) continue;
      try {
        const reply = await channel.request("echo", text(what), { timeout: 3000 });
        assert.equal(untext(reply.payload), what);
        return attempt;
      } catch (error) {
        if (attempt >= 5) throw error;
      } finally {
        await channel.close();
      }
    }
  };
  return {
    server,
    attacker,
    evil,
    refusals,
    baseline,
    legit,
    peak: () => peak,
    async [Symbol.asyncDispose]() {
      clearInterval(sampler);
      await evil.close();
      await link.close();
      await tcp.close();
      await attacker.close();
      await client.close();
      await server.close();
    },
  };
}

/**
 * Sends message 1s (random 32-byte ephemeral keys: every 32 bytes are an X25519 public key)
 * until `enough()`, at least `min` of them.
 */
async function flood(
  env: Awaited<ReturnType<typeof setup>>,
  options: { min: number; enough: () => boolean },
): Promise<number> {
  let sent = 0;
  while (sent < options.min || !options.enough()) {
    await env.attacker.send(
      env.evil.route.append("api"),
      crypto.getRandomValues(new Uint8Array(32)),
      {
        from: "sink",
      },
    );
    sent++;
    if (sent % 16 === 0) await new Promise((r) => setTimeout(r, 0));
    if (sent > 50_000) break; // the assertions below say why
  }
  return sent;
}

Deno.test("a flood of message 1s that never answers stays within maxHandshakes; a client is served during and after", async () => {
  await using env = await setup();
  let message2s = 0;
  env.attacker.startWorker("sink", () => void message2s++, { consumes: [env.evil.flow] });
  let during = false;
  const served = (async () => {
    // Once the flood is well under way (the listener full), a legitimate client connects.
    await waitFor(() => message2s >= MAX, 60_000);
    await env.legit("during");
    during = true;
  })();
  served.catch(() => {}); // awaited below
  // It goes on until the client got through and the listener was full (it evicted).
  const full = () => (env.refusals.get("too-many-handshakes") ?? 0) > 0;
  const sent = await flood(env, { min: 3000, enough: () => during && full() });
  await served;
  assert.ok(during && sent >= 3000);
  // Half-open handshakes were evicted to make room (each with its code).
  assert.ok(full(), "the flood filled the listener");
  // One worker per pending handshake: never more than the bound (the client's included).
  assert.ok(env.peak() <= MAX, `peak ${env.peak()} pending handshakes > ${MAX}`);
  // After the timeout nothing of the flood is left...
  await waitFor(() => env.server.workerAddresses().length === env.baseline, 20_000);
  assert.ok((env.refusals.get("handshake-timeout") ?? 0) > 0);
  // ...and the listener still serves.
  await env.legit("after");
});

Deno.test("a flood that answers message 2 with garbage is refused and bounded; a client is served during and after", async () => {
  await using env = await setup();
  let message2s = 0;
  env.attacker.startWorker("sink", async (ctx) => {
    message2s++;
    const garbage = crypto.getRandomValues(new Uint8Array(64 + (message2s % 200)));
    await env.attacker.send(ctx.message.returnRoute, garbage, { from: "sink" });
  }, { consumes: [env.evil.flow] });
  let during = false;
  const served = (async () => {
    await waitFor(() => message2s >= MAX, 60_000);
    await env.legit("during");
    during = true;
  })();
  served.catch(() => {}); // awaited below
  const sent = await flood(env, { min: 2000, enough: () => during });
  await served;
  assert.ok(during && sent >= 2000);
  // Each garbage message 3 is a typed refusal (its AEAD fails).
  await waitFor(() =>
    (env.refusals.get("decrypt-failed") ?? 0) + (env.refusals.get("bad-message") ?? 0) > MAX
  );
  assert.ok(env.peak() <= MAX, `peak ${env.peak()} pending handshakes > ${MAX}`);
  await waitFor(() => env.server.workerAddresses().length === env.baseline, 20_000);
  await env.legit("after");
});
