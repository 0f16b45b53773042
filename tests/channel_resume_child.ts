// Helper process for channel_resume_test.ts: a device that connects to the parent over TCP
// (127.0.0.1:<port>), keeps its identity and its channels' states under <dir> (FileKeyStore:
// 0600, atomic), resumes the channels found there, and answers requests with an echo.
// Prints one JSON line per event: {"resumed": n} once ready, {"handshake": id} per new channel.
import {
  ChannelStateStore,
  createSecureChannelListener,
  resumeSecureChannels,
} from "../channel/mod.ts";
import { loadOrCreateIdentity } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Node, startEcho } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";

const [port, dir] = Deno.args;
if (!port || !dir) throw new Error("usage: channel_resume_child.ts <port> <dir>");
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
startEcho(node, { consumes: [listener.flow] });
const { channels } = await resumeSecureChannels(node, { ...options, store, listener });
console.log(JSON.stringify({ resumed: channels.length }));
// Runs until killed.
