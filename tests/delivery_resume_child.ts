// Helper process for delivery_resume_test.ts: a device that connects to the parent over TCP
// (127.0.0.1:<port>), keeps its identity and its channels' states under <dir> (as
// channel_resume_child.ts does), and runs a delivery receiver `inbox` whose record is in
// <dir>/delivery.db. Its application writes each message's seq to the table `got` of the
// same database, in the same transaction as the receiver's record (`message.commit()`).
// Prints one JSON line per event: {"resumed": n, "restored": s} once ready, {"handshake": id}
// per new channel.
import { startDeliveryReceiver } from "../delivery/mod.ts";
import { SqliteDeliveryReceiverState } from "../delivery/deno.ts";
import { resumableDevice } from "./_resume_child_common.ts";

const { node, dir, listener, resume } = await resumableDevice("delivery_resume_child.ts");
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
const resumed = await resume();
console.log(JSON.stringify({ resumed, restored: receiver.stats.restored }));
// Runs until killed.
