// The cut-through data path: frames sealed and opened synchronously with a native AEAD are
// the same bytes as WebCrypto's across rekeys, and the receiver's refusals (replay, too-old,
// tampering) hold on the synchronous path as on the asynchronous one.
import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node } from "../routing/mod.ts";
import { attachDuplex, memoryDuplexPair } from "../transport/mod.ts";
import { installNativeAead, type NativeAead, Vault } from "../vault/mod.ts";
import { nodeCryptoAead, openSslAead } from "../vault/deno.ts";
import { CipherState } from "./cipher_state.ts";
import { Decryptor } from "./decryptor.ts";
import { Encryptor } from "./encryptor.ts";
import { createSecureChannel, createSecureChannelListener } from "./mod.ts";

const KEY = new Uint8Array(32).fill(7);
const providers: NativeAead[] = [nodeCryptoAead()];
const ffi = openSslAead();
if (ffi) providers.unshift(ffi);

const code = (e: unknown) => e instanceof ChannelError ? e.code : undefined;
const message = (i: number) => new Uint8Array([i & 0xff, i >> 8, 0xa5]);

async function withProvider(provider: NativeAead, body: () => Promise<void>): Promise<void> {
  installNativeAead(provider);
  try {
    await body();
  } finally {
    installNativeAead(undefined);
  }
}

/** `count` frames, each sealed synchronously when the encryptor can, else awaited. */
async function sealAll(encryptor: Encryptor, count: number): Promise<{
  frames: Uint8Array[];
  sync: number;
}> {
  const frames: Uint8Array[] = [];
  let sync = 0;
  for (let i = 0; i < count; i++) {
    const now = encryptor.encryptSync(message(i));
    if (now) sync++;
    frames.push(now ?? await encryptor.encrypt(message(i)));
    // Let the next epoch's key, derived ahead, arrive.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return { frames, sync };
}

Deno.test("WebCrypto alone: encryptSync never seals, so the portable path is unchanged", async () => {
  installNativeAead(undefined);
  const encryptor = new Encryptor(await CipherState.create("AESGCM", KEY));
  const { sync } = await sealAll(encryptor, 70);
  assert.equal(sync, 0);
  assert.equal(encryptor.cutThrough, false);
});

for (const provider of providers) {
  Deno.test(`${provider.name}: synchronous frames equal WebCrypto's byte for byte across rekeys`, () =>
    withProvider(provider, async () => {
      installNativeAead(undefined);
      const web = new Encryptor(await CipherState.create("AESGCM", KEY));
      const expected = await Promise.all(
        Array.from({ length: 200 }, (_, i) => web.encrypt(message(i))),
      );
      installNativeAead(provider);
      const native = new Encryptor(await CipherState.create("AESGCM", KEY));
      assert.equal(native.cutThrough, true);
      const { frames, sync } = await sealAll(native, 200);
      assert.ok(sync >= 150, `most frames past epoch 0 are sealed synchronously (${sync})`);
      assert.deepEqual(frames, expected);
      assert.equal(native.nextNonce, 200);
    }));

  Deno.test(`${provider.name}: decryptSync opens in order across rekeys and keeps one key`, () =>
    withProvider(provider, async () => {
      const encryptor = new Encryptor(await CipherState.create("AESGCM", KEY));
      const decryptor = new Decryptor(await CipherState.create("AESGCM", KEY));
      const { frames } = await sealAll(encryptor, 300);
      let sync = 0;
      for (const [i, frame] of frames.entries()) {
        const now = decryptor.decryptSync(frame);
        if (now) sync++;
        const opened = now ?? await decryptor.decrypt(frame);
        assert.equal(opened.nonce, i);
        assert.deepEqual(opened.plaintext, message(i));
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.ok(sync >= 250, `most frames are opened synchronously (${sync})`);
      // The last epoch (288..299) ended before its 16th nonce: nothing was made ahead.
      assert.equal(decryptor.keysHeld, 1);
      decryptor.close();
    }));

  Deno.test(`${provider.name}: decryptSync refuses replays, old and tampered frames, and goes on`, () =>
    withProvider(provider, async () => {
      const encryptor = new Encryptor(await CipherState.create("AESGCM", KEY));
      const decryptor = new Decryptor(await CipherState.create("AESGCM", KEY), { windowSize: 64 });
      const { frames } = await sealAll(encryptor, 200);
      for (const frame of frames.slice(0, 100)) {
        decryptor.decryptSync(frame) ?? await decryptor.decrypt(frame);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const frame = frames[99]!;
      assert.throws(() => decryptor.decryptSync(frame), (e) => code(e) === "replayed");
      // Nonce 20 is 79 behind the newest (99): outside a 64-nonce window. Its epoch key is
      // gone too, so the synchronous path defers and the asynchronous one refuses it.
      const old = frames[20]!;
      const deferred = decryptor.decryptSync(old);
      assert.equal(deferred, undefined);
      await assert.rejects(decryptor.decrypt(old), (e) => code(e) === "too-old");
      const tampered = frames[100]!.slice();
      tampered[tampered.length - 1]! ^= 1;
      assert.throws(() => decryptor.decryptSync(tampered), (e) => code(e) === "decrypt-failed");
      // Nothing was recorded for the forgery: the genuine frame still opens, once.
      const genuine = decryptor.decryptSync(frames[100]!) ?? await decryptor.decrypt(frames[100]!);
      assert.equal(genuine.nonce, 100);
      assert.throws(() => decryptor.decryptSync(frames[100]!), (e) => code(e) === "replayed");
      const short = new Uint8Array(10);
      assert.equal(decryptor.decryptSync(short), undefined);
      await assert.rejects(decryptor.decrypt(short), (e) => code(e) === "truncated");
      decryptor.close();
    }));

  Deno.test(`${provider.name}: a channel over a link delivers 2,000 messages in order, cut through`, () =>
    withProvider(provider, async () => {
      await using client = new Node();
      await using server = new Node();
      const [a, b] = memoryDuplexPair();
      const link = attachDuplex(client, a);
      const incoming = attachDuplex(server, b);
      const listener = await createSecureChannelListener(server, "api", {
        identity: await createIdentity(new Vault()),
        consumes: [incoming.flow],
      });
      const got: number[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => done = resolve);
      const count = 2_000;
      server.startWorker("sink", (ctx) => {
        const p = ctx.message.payload;
        got.push(p[0]! | (p[1]! << 8));
        if (got.length === count) done();
      }, { consumes: [listener.flow] });
      const channel = await createSecureChannel(client, link.route.append("api"), {
        identity: await createIdentity(new Vault()),
      });
      for (let i = 0; i < count; i++) await channel.send("sink", message(i));
      await all;
      assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
      await channel.close();
    }));
}
