import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node } from "../routing/node.ts";
import { Vault } from "../vault/mod.ts";
import { Address } from "../routing/address.ts";
import { Route } from "../routing/route.ts";
import { CHANNEL_SECRET, MemoryKeyStore } from "../vault/key_store.ts";
import { CipherState } from "./cipher_state.ts";
import {
  type ChannelState,
  ChannelStateStore,
  decodeChannelState,
  encodeChannelState,
} from "./channel_state.ts";
import { Decryptor } from "./decryptor.ts";
import { Encryptor } from "./encryptor.ts";
import { HandshakeState } from "./handshake_state.ts";
import { EpochKeys } from "./epoch_keys.ts";
import { ReplayWindow } from "./replay_window.ts";
import { resumeSecureChannels } from "./resume.ts";

const isCode = (code: string) => (e: unknown) => e instanceof ChannelError && e.code === code;

function sample(): ChannelState {
  return {
    role: "responder",
    cipher: "AESGCM",
    identifier: "I" + "ab".repeat(32),
    listener: Address.local("api"),
    encryptorAddress: Address.random(),
    decryptorAddress: Address.random(),
    route: Route.from(["1#127.0.0.1:4000", "rec", Address.random()]),
    peer: {
      identifier: "I" + "cd".repeat(32),
      attributes: { role: new Uint8Array([1, 2]) },
      credentials: [{
        issuer: "I" + "ef".repeat(32),
        subject: "I" + "cd".repeat(32),
        attributes: { role: new Uint8Array([1, 2]) },
        createdAt: 10,
        expiresAt: 20,
        schema: 0,
      }],
    },
    send: { epoch: 7, key: crypto.getRandomValues(new Uint8Array(32)) },
    receive: { epoch: 3, key: crypto.getRandomValues(new Uint8Array(32)), floor: 100 },
  };
}

Deno.test("a channel state round-trips, and any altered byte or truncation is corrupt-state", async () => {
  const state = sample();
  const record = await encodeChannelState(state);
  const back = await decodeChannelState(record);
  assert.equal(back.route.toString(), state.route.toString());
  assert.ok(back.listener?.equals(state.listener!));
  assert.deepEqual(back.send, state.send);
  assert.deepEqual(back.receive, state.receive);
  assert.deepEqual(back.peer, state.peer);
  for (let i = 0; i < record.length; i += 7) {
    const bad = record.slice();
    bad[i]! ^= 0x10;
    await assert.rejects(decodeChannelState(bad), isCode("corrupt-state"));
  }
  await assert.rejects(decodeChannelState(record.subarray(0, 50)), isCode("corrupt-state"));
  // A well-formed record whose content breaks the rules (floor below its epoch) is refused too.
  const wrong = await encodeChannelState({ ...state, receive: { ...state.receive, floor: 10 } });
  await assert.rejects(decodeChannelState(wrong), (e: unknown) => {
    assert.ok(isCode("corrupt-state")(e));
    assert.ok(!String((e as Error).message).includes("floor"), "the message quotes nothing");
    return true;
  });
});

Deno.test("ChannelStateStore lists, loads and deletes states in a key store as channel secrets", async () => {
  const keys = new MemoryKeyStore();
  const store = new ChannelStateStore(keys);
  const id = store.newId();
  await store.save(id, sample());
  assert.deepEqual(await store.ids(), [id]);
  assert.equal((await keys.get(id))?.algorithm, CHANNEL_SECRET);
  assert.equal((await store.load(id))?.send.epoch, 7);
  await store.delete(id);
  assert.deepEqual(await store.ids(), []);
  assert.equal(await store.load(id), undefined);
  await assert.rejects(store.load("elsewhere-x"), isCode("bad-state-id"));
  await keys.set("channels-index", { algorithm: CHANNEL_SECRET, privateKey: new Uint8Array([1]) });
  await assert.rejects(new ChannelStateStore(keys).ids(), isCode("corrupt-state"));
});

Deno.test("an encryptor resumed at a later epoch frames what a receiver resumed there opens, and waits for its reservation", async () => {
  const k0 = await CipherState.create("AESGCM", new Uint8Array(32));
  let k2 = await (await k0.rekeyed()).rekeyed();
  const bytes = await k2.rekeyedKeyBytes(); // epoch 3
  k2 = await CipherState.create("AESGCM", bytes.slice());
  const asked: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const encryptor = new Encryptor(await CipherState.create("AESGCM", bytes.slice()), {
    start: 96,
    reserve: (n) => {
      asked.push(n);
      return n === 96 ? gate : undefined;
    },
  });
  let done = false;
  const first = encryptor.encrypt(new Uint8Array([1])).then((f) => (done = true, f));
  const second = encryptor.encrypt(new Uint8Array([2]));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(done, false, "no frame before its reservation is written");
  release();
  const frames = [await first, await second];
  assert.deepEqual(asked, [96, 97]);
  const decryptor = new Decryptor(await CipherState.create("AESGCM", bytes.slice()), {
    resume: { epoch: 3, floor: 96 },
  });
  await assert.rejects(decryptor.decrypt(frames[0]!), isCode("replayed"));
  assert.deepEqual((await decryptor.decrypt(frames[1]!)).plaintext, new Uint8Array([2]));
  // Across the next rekey too.
  const later = [];
  for (let i = 0; i < 40; i++) later.push(await encryptor.encrypt(new Uint8Array([i])));
  for (const frame of later) await decryptor.decrypt(frame);
  decryptor.close();
  assert.throws(() => new Encryptor(k2, { start: 5 }), RangeError);
});

Deno.test("ReplayWindow.markThrough refuses everything up to the floor; EpochKeys may start at a later epoch", async () => {
  const window = new ReplayWindow(64);
  window.markThrough(100);
  assert.equal(window.check(100), "replayed");
  assert.equal(window.check(40), "replayed");
  assert.equal(window.check(10), "too-old");
  assert.equal(window.check(101), "ok");
  window.record(103);
  assert.equal(window.check(102), "ok");
  assert.equal(window.check(99), "replayed");
  const open = (b: Uint8Array) => CipherState.create("AESGCM", b);
  const keys = new EpochKeys(await open(new Uint8Array(32)), { open, startEpoch: 5 });
  assert.equal(keys.newest, 5);
  await assert.rejects(keys.keyForNonce(4 * 32), isCode("too-old"));
  await keys.keyForNonce(7 * 32);
  assert.ok(keys.keyBytes(7) instanceof Uint8Array);
  assert.equal(keys.keyBytes(5), undefined, "the start epoch's key is not bytes");
  keys.close();
});

Deno.test("resumeSecureChannels unlists a state lost between two writes and starts nothing for it", async () => {
  const keys = new MemoryKeyStore();
  const store = new ChannelStateStore(keys);
  const id = store.newId();
  await store.save(id, sample());
  await keys.delete(id); // the crash came after the record went, before the index changed
  await using node = new Node();
  const result = await resumeSecureChannels(node, {
    identity: await createIdentity(new Vault()),
    store,
  });
  assert.deepEqual(result, { channels: [], removed: [id] });
  assert.deepEqual(await store.ids(), []);
});

Deno.test("splitWithKeys gives the bytes of the very keys split gives", async () => {
  const protocolName = "Noise_NN_25519_AESGCM_SHA256";
  const a = await HandshakeState.create({ protocolName, initiator: true });
  const b = await HandshakeState.create({ protocolName, initiator: false });
  await b.readMessage(await a.writeMessage());
  await a.readMessage(await b.writeMessage());
  const [aOut] = await a.split();
  const { ciphers: [, bOut], keys } = await b.splitWithKeys();
  const sealed = await aOut.encryptAt(5n, new Uint8Array(), new Uint8Array([1]));
  const fromBytes = await CipherState.create("AESGCM", keys[0]);
  assert.deepEqual(await fromBytes.decryptAt(5n, new Uint8Array(), sealed), new Uint8Array([1]));
  const back = await bOut.encryptAt(6n, new Uint8Array(), new Uint8Array([2]));
  const other = await CipherState.create("AESGCM", keys[1]);
  assert.deepEqual(await other.decryptAt(6n, new Uint8Array(), back), new Uint8Array([2]));
});
