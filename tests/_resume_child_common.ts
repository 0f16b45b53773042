// What the resume tests' device processes share: arguments `<port> <dir>`, an identity and
// channel states kept under <dir> (FileKeyStore: 0600, atomic), a TCP link to the parent at
// 127.0.0.1:<port>, a channel listener `api` that prints {"handshake": id} per new channel,
// and the call that resumes the channels found there.
import {
  ChannelStateStore,
  createSecureChannelListener,
  resumeSecureChannels,
  type SecureChannelListener,
} from "../channel/mod.ts";
import { loadOrCreateIdentity } from "../identity/mod.ts";
import { FileIdentityStore } from "../identity/deno.ts";
import { Node } from "../routing/mod.ts";
import { connectTcp } from "../transport/deno.ts";
import { Vault } from "../vault/mod.ts";
import { FileKeyStore } from "../vault/deno.ts";

/** The device's node, state dir and listener; `resume()` resolves how many channels it resumed. */
export async function resumableDevice(name: string): Promise<{
  node: Node;
  dir: string;
  listener: SecureChannelListener;
  resume(): Promise<number>;
}> {
  const [port, dir] = Deno.args;
  if (!port || !dir) throw new Error(`usage: ${name} <port> <dir>`);
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
  const resume = async () =>
    (await resumeSecureChannels(node, { ...options, store, listener })).channels.length;
  return { node, dir, listener, resume };
}
