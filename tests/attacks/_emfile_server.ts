// Child of the EMFILE attack test: a default-configured node with a TCP listener, a
// supervised WebSocket server and echo on both, run under a small descriptor limit
// (`ulimit -n`). Prints "ready <tcpPort> <wsPort>" and then one JSON line per warning or
// error logged, so the parent can see the accept failures. Runs until killed.
import { Node, startEcho } from "../../routing/mod.ts";
import { listenTcp, serveWebSocket } from "../../transport/deno.ts";

const print = (line: string) => console.log(line);
const log = (level: string) => (message: string, fields?: Record<string, unknown>) => {
  const error = fields?.error as { name?: string; code?: string; message?: string } | undefined;
  print(JSON.stringify({ level, message, error: error?.name ?? error?.code }));
};
const node = new Node({
  logger: { debug: () => {}, info: () => {}, warn: log("warn"), error: log("error") },
});
const tcp = listenTcp(node);
const ws = serveWebSocket(node);
startEcho(node, { consumes: [tcp.flow, ws.flow] });
globalThis.addEventListener("unhandledrejection", (e) => {
  print(JSON.stringify({ level: "fatal", message: String(e.reason) }));
});
print(`ready ${tcp.port} ${ws.port}`);
await new Promise(() => {});
