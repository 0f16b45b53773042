// Helper process for delivery_resume_test.ts: a device that connects to the parent over TCP
// (127.0.0.1:<port>), keeps its identity and its channels' states under <dir> (as
// channel_resume_child.ts does), and runs a delivery receiver `inbox` whose record is in
// <dir>/delivery.db. Its application writes each message's seq to the table `got` of the
// same database, in the same transaction as the receiver's record (`message.commit()`).
// Prints one JSON line per event: {"resumed": n, "restored": s} once ready, {"handshake": id}
// per new channel.
import {
  ChannelStateStore,
  createSecureChannelListener,
  resumeSecureChannels,
} from "../channel/mod.ts";
import { startDeliveryReceiver } from "../delivery/mod.ts";
import { SqliteDeliveryReceiverState } from "../delivery/deno.ts";
import { loadOrCreateIdentity } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Node } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";

const [port, dir] = Deno.args;
if (!port || !dir) throw new Error("usage: delivery_resume_child.ts <port> <dir>");
const identity = await loadOrCreateIdentity({
  vault: new Vault({ store: new FileKeyStore(`${dir}/keys`) }),
  store: new FileIdentityStore(`${dir}/identities`),
  name: "device",
});
const node = new Node();
const link = await connectTcp(node, `127.0.0.1:${port}`);
const store = new ChannelStateStore(new FileKeyStore(`${dir}/channels`));
const options = { identity, resume: store, reserveEpochs: 1 };
const listener = await createSecureChannelListener(node, "api", {
  ...options,
  consumes: [link.flow],
  onChannel: (channel) => console.log(JSON.stringify({ handshake: channel.address.toString() })),
});
const state = new SqliteDeliveryReceiverState(`${dir}/delivery.db`);
state.database.exec("CREATE TABLE IF NOT EXISTS got (seq INTEGER NOT NULL)");
const insert = state.database.prepare("INSERT INTO got (seq) VALUES (?)");
const receiver = startDeliveryReceiver(node, "inbox", {
  consumes: [listener.flow],
  state,
  onMessage: (m) => {
    const seq = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0);
    state.transaction(() => {
      insert.run(seq);
      m.commit();
    });
  },
});
const { channels } = await resumeSecureChannels(node, { ...options, store, listener });
console.log(JSON.stringify({ resumed: channels.length, restored: receiver.stats.restored }));
// Runs until killed.
