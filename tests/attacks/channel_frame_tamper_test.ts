// Tampered transport frames and a burst of RefreshCredentials inside an established
// channel (issue 12: "for each handshake message and transport frame every single-bit
// flip, truncation and extension rejected with the listener still serving and the channel
// still usable"; an admitted peer must not be able to cause unbounded work or an unhandled
// rejection).
import assert from "node:assert/strict";
import { createSecureChannel } from "../../channel/create_secure_channel.ts";
import type { SecureChannel } from "../../channel/secure_channel.ts";
import { createSecureChannelListener } from "../../channel/secure_channel_listener.ts";
import { identity, startTap, text, untext, waitFor } from "../../channel/_channel_test_util.ts";
import { issueCredential } from "../../identity/mod.ts";
import { startEcho } from "../../routing/echo.ts";
import type { Logger } from "../../routing/logger.ts";
import { Node } from "../../routing/node.ts";
import type { RoutedMessage } from "../../routing/routed_message.ts";

/** Records the code of every log entry of the node's secure channels, by message. */
function codeLog(): Logger & { codes(message: string): string[] } {
  const entries: [string, string][] = [];
  const keep = (message: string, fields?: Record<string, unknown>) => {
    if (typeof fields?.code === "string") entries.push([message, fields.code]);
  };
  return {
    codes: (m) => entries.filter(([message]) => message.endsWith(m)).map(([, c]) => c),
    debug: keep,
    info() {},
    warn: keep,
    error: keep,
  };
}

/** Fails the test on any unhandled rejection while `run` runs. */
async function noUnhandledRejections(run: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const listener = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", listener);
  try {
    await run();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    globalThis.removeEventListener("unhandledrejection", listener);
  }
  assert.deepEqual(unhandled, [], "no unhandled rejection");
}

/** Every single-bit flip, truncation to every length, and extension by 1, 16, 1024 bytes. */
function tampered(frame: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (let bit = 0; bit < 8 * frame.length; bit++) {
    const q = frame.slice();
    q[bit >> 3]! ^= 1 << (bit & 7);
    out.push([`bit ${bit}`, q]);
  }
  for (let n = 0; n < frame.length; n++) out.push([`cut to ${n}`, frame.slice(0, n)]);
  for (const extra of [1, 16, 1024]) {
    const q = new Uint8Array(frame.length + extra);
    q.set(frame);
    out.push([`extended by ${extra}`, q]);
  }
  return out;
}

Deno.test("every bit flip, truncation and extension of a transport frame is refused, nothing is delivered, and the channel goes on", async () => {
  await noUnhandledRejections(async () => {
    const logger = codeLog();
    await using node = new Node({ logger });
    const accepted: SecureChannel[] = [];
    const listener = await createSecureChannelListener(node, "api", {
      identity: await identity(),
      onChannel: (c) => accepted.push(c),
    });
    startEcho(node, { consumes: [listener.flow] });
    const delivered: string[] = [];
    node.startWorker("app", (ctx) => void delivered.push(untext(ctx.message.payload)), {
      consumes: [listener.flow],
    });
    // The tap sits on the route to the responder: it keeps the first frame sent while
    // `capture` is set, and passes everything else.
    let capture = false;
    let original: RoutedMessage | undefined;
    startTap(node, "tap", (m) => {
      if (!capture || original) return [m];
      original = m;
      return [];
    });
    const channel = await createSecureChannel(node, ["tap", "api"], { identity: await identity() });
    await waitFor(() => accepted.length === 1);
    assert.equal(untext((await channel.request("echo", text("before"))).payload), "before");
    capture = true;
    await channel.send("app", text("the one"));
    await waitFor(() => original !== undefined);
    capture = false;
    const frame = original!.payload;
    assert.ok(frame.length > 24, `a frame of ${frame.length} bytes`);

    const cases = tampered(frame);
    assert.equal(cases.length, 8 * frame.length + frame.length + 3);
    for (const [, bytes] of cases) await node.deliver(original!.with({ payload: bytes }));
    // Each one is refused by the decryptor with a typed, logged reason.
    await waitFor(() => logger.codes("refused a frame").length === cases.length, 60_000);
    const codes = new Set(logger.codes("refused a frame"));
    const allowed = ["decrypt-failed", "truncated", "bad-nonce", "too-far-ahead", "replayed"];
    assert.deepEqual([...codes].filter((c) => !allowed.includes(c)), [], [...codes].join());
    assert.ok(codes.has("decrypt-failed") && codes.has("truncated"));
    assert.deepEqual(delivered, [], "nothing tampered reached the application");
    assert.equal(logger.codes("does not decode").length, 0);

    // The untouched frame still opens (no failed attempt consumed its nonce)...
    await node.deliver(original!);
    await waitFor(() => delivered.length === 1);
    assert.deepEqual(delivered, ["the one"]);
    // ...once: its replay is refused.
    const refusedBefore = logger.codes("refused a frame").length;
    await node.deliver(original!);
    await waitFor(() => logger.codes("refused a frame").length > refusedBefore);
    assert.equal(logger.codes("refused a frame").at(-1), "replayed");
    assert.deepEqual(delivered, ["the one"]);

    // The channel is still usable both ways, and still open at both ends.
    assert.equal(untext((await channel.request("echo", text("after"))).payload), "after");
    assert.equal(channel.isClosed || accepted[0]!.isClosed, false);
    await channel.close();
  });
});

Deno.test("a burst of RefreshCredentials is handled one at a time, older ones skipped, without an unhandled rejection", async () => {
  await noUnhandledRejections(async () => {
    const logger = codeLog();
    await using node = new Node({ logger });
    const authority = await identity();
    const accepted: SecureChannel[] = [];
    const listener = await createSecureChannelListener(node, "api", {
      identity: await identity(),
      authorities: [authority.identity],
      onChannel: (c) => accepted.push(c),
    });
    startEcho(node, { consumes: [listener.flow] });
    const me = await identity();
    const channel = await createSecureChannel(node, "api", { identity: me });
    await waitFor(() => accepted.length === 1);
    const BURST = 200;
    const credentials = [];
    for (let i = 0; i < BURST; i++) {
      credentials.push(
        await issueCredential({
          issuer: authority,
          subject: me.identity,
          attributes: { role: `r${i}` },
        }),
      );
    }
    // A few hostile ones among them: not credentials at all, from an unknown issuer.
    const stranger = await identity();
    const foreign = await issueCredential({
      issuer: stranger,
      subject: me.identity,
      attributes: { role: "admin" },
    });
    const sends: Promise<void>[] = [];
    for (let i = 0; i < BURST; i++) {
      sends.push(channel.refreshCredentials([i % 50 === 25 ? foreign : credentials[i]!]));
    }
    await Promise.all(sends);
    // The newest one wins; each older one of the burst was verified or skipped, never both.
    await waitFor(() =>
      untext(accepted[0]!.remoteAttributes.role ?? new Uint8Array()) ===
        `r${BURST - 1}`, 30_000);
    const skipped = logger.codes("skipped refreshed credentials a newer refresh replaces");
    assert.ok(skipped.every((c) => c === "refresh-superseded"));
    assert.ok(skipped.length > 0, "a burst is not verified frame by frame");
    assert.ok(skipped.length < BURST);
    // The channel carries traffic, and a refresh after the burst is still honoured.
    assert.equal(untext((await channel.request("echo", text("after"))).payload), "after");
    await channel.refreshCredentials([credentials[7]!]);
    await waitFor(() => untext(accepted[0]!.remoteAttributes.role ?? new Uint8Array()) === "r7");
    assert.equal(accepted[0]!.isClosed, false);
    await channel.close();
  });
});
