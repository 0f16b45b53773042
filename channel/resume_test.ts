// Resumable channels in one process: a device whose node dies without closing (its key
// store frozen at that moment, as a killed process's disk is) is brought back by a new node
// from the same store; the peer goes on with the same channel, no handshake, and a recording
// hop between them sees no nonce used twice in either direction.
import assert from "node:assert/strict";
import { ChannelError } from "../errors.ts";
import type { LocalIdentity } from "../identity/mod.ts";
import { startEcho } from "../routing/echo.ts";
import { Node } from "../routing/node.ts";
import { Route } from "../routing/route.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import { attachDuplex, type Connection } from "../transport/connection.ts";
import { memoryDuplexPair } from "../transport/duplex.ts";
import { type KeyStore, MemoryKeyStore, type StoredKey } from "../vault/key_store.ts";
import { ChannelStateStore } from "./channel_state.ts";
import { createSecureChannel } from "./create_secure_channel.ts";
import { resumeSecureChannels } from "./resume.ts";
import type { SecureChannel } from "./secure_channel.ts";
import { createSecureChannelListener } from "./secure_channel_listener.ts";
import { identity, startTap, text, untext, waitFor } from "./_channel_test_util.ts";

/** A key store that, once crashed, refuses everything (a dead process writes nothing). */
class CrashableKeyStore implements KeyStore {
  #inner: KeyStore;
  #crashed = false;
  constructor(inner: KeyStore) {
    this.#inner = inner;
  }
  crash(): void {
    this.#crashed = true;
  }
  #check(): void {
    if (this.#crashed) throw new Error("the process is dead");
  }
  get(id: string): Promise<StoredKey | undefined> {
    this.#check();
    return this.#inner.get(id);
  }
  set(id: string, key: StoredKey): Promise<void> {
    this.#check();
    return this.#inner.set(id, key);
  }
  delete(id: string): Promise<boolean> {
    this.#check();
    return this.#inner.delete(id);
  }
}

const nonceOf = (frame: Uint8Array) =>
  new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0);

/** The client's node: a recording hop `rec`, and `fwd`, which leads to the device's current link. */
function clientSide() {
  const node = new Node();
  const toDevice: bigint[] = [];
  const toClient: bigint[] = [];
  const frames: RoutedMessage[] = [];
  let recording = false;
  let link: Connection | undefined;
  startTap(node, "rec", (m) => {
    if (recording) {
      if (m.onwardRoute.next?.toString() === "fwd") {
        toDevice.push(nonceOf(m.payload));
        frames.push(m);
      } else toClient.push(nonceOf(m.payload));
    }
    return [m];
  });
  node.startWorker("fwd", async (ctx) => {
    const m = ctx.message;
    if (!link) return; // the device is down: the frame is lost
    await node.deliver(m.with({ onwardRoute: Route.from(link.route, m.onwardRoute.popFront()) }));
  });
  return {
    node,
    toDevice,
    toClient,
    frames,
    record: () => recording = true,
    connect(device: Node): { client: Connection; device: Connection } {
      const [a, b] = memoryDuplexPair();
      const client = attachDuplex(node, a);
      node.flowControls.addConsumer("rec", client.flow);
      link = client;
      return { client, device: attachDuplex(device, b) };
    },
    down: () => link = undefined,
  };
}

/** A device node with a resumable listener `api`, an `inbox` and an echo behind it. */
async function deviceSide(
  client: ReturnType<typeof clientSide>,
  me: LocalIdentity,
  keys: KeyStore,
  accepted: SecureChannel[],
) {
  const node = new Node();
  const link = client.connect(node);
  const store = new ChannelStateStore(keys);
  const options = { identity: me, resume: store, reserveEpochs: 1 };
  const listener = await createSecureChannelListener(node, "api", {
    ...options,
    consumes: [link.device.flow],
    onChannel: (c) => accepted.push(c),
  });
  const inbox: string[] = [];
  node.startWorker("inbox", (ctx) => void inbox.push(untext(ctx.message.payload)), {
    consumes: [listener.flow],
  });
  startEcho(node, { consumes: [listener.flow] });
  return { node, link, store, listener, inbox, options };
}

function assertNoRepeats(nonces: bigint[], what: string): void {
  assert.equal(new Set(nonces).size, nonces.length, `a nonce was used twice ${what}`);
}

// Requests to the echo (both directions), then messages to the inbox (the last frames).
async function exchange(channel: SecureChannel, inbox: string[], from: number, to: number) {
  for (let i = from; i < to; i++) {
    const reply = await channel.request("echo", text(`r${i}`), { timeout: 5000 });
    assert.equal(untext(reply.payload), `r${i}`);
  }
  for (let i = from; i < to; i++) await channel.send("inbox", text(`m${i}`));
  await waitFor(() => inbox.includes(`m${to - 1}`));
}

Deno.test("a device node that dies is resumed from its store: same channel, no handshake, no nonce twice, no replay", async () => {
  const client = clientSide();
  const memory = new MemoryKeyStore();
  const disk1 = new CrashableKeyStore(memory);
  const me = await identity();
  const accepted: SecureChannel[] = [];
  const device1 = await deviceSide(client, me, disk1, accepted);
  const device2Node: { close(): Promise<void> }[] = [];
  try {
    const clientIdentity = await identity();
    const channel = await createSecureChannel(client.node, ["rec", "fwd", "api"], {
      identity: clientIdentity,
      keepHandshakeRoute: true,
    });
    await waitFor(() => accepted.length === 1);
    client.record();
    // 70 messages each way: the device crosses its one-epoch reservations twice.
    await exchange(channel, device1.inbox, 0, 70);
    assert.equal((await device1.store.ids()).length, 1);

    // The device dies: its disk takes no more writes, its link is gone, its node drops.
    disk1.crash();
    client.down();
    await device1.link.client.close();
    await device1.node.close();
    const beforeCrash = { toDevice: client.toDevice.length, toClient: client.toClient.length };

    // A new process: same identity, same key store.
    const device2 = await deviceSide(client, me, new CrashableKeyStore(memory), accepted);
    device2Node.push(device2.node);
    const { channels, removed } = await resumeSecureChannels(device2.node, {
      ...device2.options,
      store: device2.store,
      listener: device2.listener,
    });
    assert.equal(channels.length, 1);
    assert.deepEqual(removed, []);
    assert.equal(channels[0]!.remoteIdentifier, clientIdentity.identifier);
    assert.equal(channels[0]!.remoteAddress.toString(), accepted[0]!.remoteAddress.toString());
    assert.ok(device2.listener.channels.has(channels[0]!));

    // The client goes on with the same channel.
    await exchange(channel, device2.inbox, 70, 110);
    assert.equal(accepted.length, 1, "no new handshake: the device resumed its channel");
    assert.ok(!channel.isClosed);
    assert.ok(client.toClient.length > beforeCrash.toClient, "the resumed device sent frames");

    // Frames the relay recorded before the crash, replayed: refused (nothing delivered twice).
    const replays = client.frames.slice(0, beforeCrash.toDevice).slice(-40);
    for (const frame of replays) await client.node.deliver(frame);
    await channel.send("inbox", text("after the replays"));
    await waitFor(() => device2.inbox.includes("after the replays"));
    assert.equal(device2.inbox.length, 41, "the 40 new messages and the last one, no replay");

    assertNoRepeats(client.toDevice, "to the device");
    assertNoRepeats(client.toClient, "to the client");
    // Across the crash, the device's nonces went on past everything it had used.
    const before = client.toClient.slice(0, beforeCrash.toClient);
    const after = client.toClient.slice(beforeCrash.toClient);
    assert.ok(after.every((n) => n > before.reduce((a, b) => a > b ? a : b)));

    // A closed channel deletes its state.
    await channel.close();
    await waitFor(() => channels[0]!.isClosed);
    for (let i = 0; (await device2.store.ids()).length > 0; i++) {
      assert.ok(i < 500, "the closed channel's state was not deleted");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    for (const node of device2Node) await node.close();
    await client.node.close();
  }
});

Deno.test("a corrupt or tampered channel state is refused with corrupt-state and nothing starts; node.close keeps a state", async () => {
  const client = clientSide();
  const memory = new MemoryKeyStore();
  const me = await identity();
  const accepted: SecureChannel[] = [];
  const device1 = await deviceSide(client, me, memory, accepted);
  const nodes: Node[] = [device1.node];
  try {
    const channel = await createSecureChannel(client.node, ["rec", "fwd", "api"], {
      identity: await identity(),
      keepHandshakeRoute: true,
    });
    await waitFor(() => accepted.length === 1);
    // Within the first epoch: its receive key was persisted from the split.
    await exchange(channel, device1.inbox, 0, 3);
    // A node that stops (not the channel closing) keeps the state for its next start.
    await device1.node.close();
    const [id] = await device1.store.ids();
    assert.ok(id);
    const good = (await memory.get(id))!;
    const flipped = good.privateKey.slice();
    flipped[flipped.length - 3]! ^= 1;
    for (const record of [flipped, good.privateKey.slice(0, 40), new Uint8Array([1])]) {
      await memory.set(id, { ...good, privateKey: record });
      const device2 = await deviceSide(client, me, memory, accepted);
      nodes.push(device2.node);
      await assert.rejects(
        resumeSecureChannels(device2.node, {
          ...device2.options,
          store: device2.store,
          listener: device2.listener,
        }),
        (e: unknown) => e instanceof ChannelError && e.code === "corrupt-state",
      );
      assert.ok(!device2.node.hasWorker(accepted[0]!.remoteAddress), "nothing left running");
      assert.ok(!device2.node.hasWorker(accepted[0]!.address));
    }
    // Another identity may not resume it.
    await memory.set(id, good);
    const other = await deviceSide(client, await identity(), memory, accepted);
    nodes.push(other.node);
    await assert.rejects(
      resumeSecureChannels(other.node, {
        ...other.options,
        store: other.store,
        listener: other.listener,
      }),
      (e: unknown) => e instanceof ChannelError && e.code === "wrong-identity",
    );
    // The intact state still resumes.
    const device3 = await deviceSide(client, me, memory, accepted);
    nodes.push(device3.node);
    const { channels } = await resumeSecureChannels(device3.node, {
      ...device3.options,
      store: device3.store,
      listener: device3.listener,
    });
    assert.equal(channels.length, 1);
    await exchange(channel, device3.inbox, 3, 40);
    assert.equal(accepted.length, 1);
    await channel.close();
  } finally {
    for (const node of nodes) await node.close();
    await client.node.close();
  }
});

Deno.test("an initiator resumed on a new route goes on with the same channel; the responder follows it", async () => {
  const server = new Node();
  const accepted: SecureChannel[] = [];
  const memory = new MemoryKeyStore();
  const me = await identity();
  const nodes: Node[] = [];
  const link = (client: Node) => {
    const [a, b] = memoryDuplexPair();
    // Frames from each link reach the server's channels through a hop (a relay's part).
    server.flowControls.addConsumer("hub", attachDuplex(server, b).flow);
    return attachDuplex(client, a);
  };
  try {
    const listener = await createSecureChannelListener(server, "api", {
      identity: await identity(),
      onChannel: (c) => accepted.push(c),
    });
    startEcho(server, { consumes: [listener.flow] });
    startTap(server, "hub");
    const client1 = new Node();
    nodes.push(client1);
    const link1 = link(client1);
    const disk1 = new CrashableKeyStore(memory);
    const channel = await createSecureChannel(client1, link1.route.append("hub", "api"), {
      identity: me,
      resume: new ChannelStateStore(disk1),
    });
    for (let i = 0; i < 40; i++) {
      assert.equal(untext((await channel.request("echo", text(`a${i}`))).payload), `a${i}`);
    }
    disk1.crash();
    await link1.close();
    await client1.close();

    const client2 = new Node();
    nodes.push(client2);
    const link2 = link(client2);
    const store = new ChannelStateStore(new CrashableKeyStore(memory));
    const { channels } = await resumeSecureChannels(client2, {
      identity: me,
      store,
      initiatorRoute: (persisted) => Route.from(link2.route, persisted.popFront()),
      consumes: [link2.flow],
    });
    assert.equal(channels.length, 1);
    const resumed = channels[0]!;
    assert.ok(resumed.isInitiator);
    for (let i = 0; i < 40; i++) {
      const reply = await resumed.request("echo", text(`b${i}`), { timeout: 5000 });
      assert.equal(untext(reply.payload), `b${i}`);
    }
    assert.equal(accepted.length, 1, "no new handshake");
    assert.ok(!accepted[0]!.isClosed);
    await resumed.close();
    await waitFor(() => accepted[0]!.isClosed);
  } finally {
    for (const node of nodes) await node.close();
    await server.close();
  }
});

Deno.test("frames that arrive together share the writes of their receive floor", async () => {
  const client = clientSide();
  const memory = new MemoryKeyStore();
  let writes = 0;
  const counting: KeyStore = {
    get: (id) => memory.get(id),
    set: (id, key) => (writes++, memory.set(id, key)),
    delete: (id) => memory.delete(id),
  };
  const accepted: SecureChannel[] = [];
  const device = await deviceSide(client, await identity(), counting, accepted);
  try {
    const channel = await createSecureChannel(client.node, ["rec", "fwd", "api"], {
      identity: await identity(),
      keepHandshakeRoute: true,
    });
    await waitFor(() => accepted.length === 1);
    const before = writes;
    const count = 400;
    await Promise.all(Array.from({ length: count }, (_, i) => channel.send("inbox", text(`${i}`))));
    await waitFor(() => device.inbox.length === count);
    assert.deepEqual(device.inbox, Array.from({ length: count }, (_, i) => `${i}`));
    assert.ok(writes - before < count / 2, `${writes - before} writes for ${count} frames`);
    await channel.close();
  } finally {
    await device.node.close();
    await client.node.close();
  }
});
