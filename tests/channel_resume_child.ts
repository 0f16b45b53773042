// Helper process for channel_resume_test.ts: a device that connects to the parent over TCP
// (127.0.0.1:<port>), keeps its identity and its channels' states under <dir> (FileKeyStore:
// 0600, atomic), resumes the channels found there, and answers requests with an echo.
// Prints one JSON line per event: {"resumed": n} once ready, {"handshake": id} per new channel.
import { startEcho } from "../routing/mod.ts";
import { resumableDevice } from "./_resume_child_common.ts";

const device = await resumableDevice("channel_resume_child.ts");
startEcho(device.node, { consumes: [device.listener.flow] });
console.log(JSON.stringify({ resumed: await device.resume() }));
// Runs until killed.
