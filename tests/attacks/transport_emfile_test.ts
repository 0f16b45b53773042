// EMFILE (issue 12): a server process under `ulimit -n 64` runs a default-configured TCP
// listener and a supervised WebSocket server. The test opens more connections than the child
// has descriptors; the child logs the failed accepts, stays alive, and once the connections
// close a fresh TCP client and a fresh WebSocket client are served.
import assert from "node:assert/strict";
import {
  closeQuietly,
  legitTcpEcho,
  legitWsEcho,
  rawConnect,
  until,
} from "./_transport_attack_util.ts";

interface Line {
  level: string;
  message: string;
  error?: string;
}

Deno.test("out of descriptors, the accept loops survive and serve again", async () => {
  const deno = Deno.execPath();
  const script = new URL("./_emfile_server.ts", import.meta.url).pathname;
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 64; exec "$0" run -A "$1"`, deno, script],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const lines: Line[] = [];
  let ports: [number, number] | undefined;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const reading = (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith("ready ")) {
          const [, tcp, ws] = line.split(" ");
          ports = [Number(tcp), Number(ws)];
        } else if (line.startsWith("{")) lines.push(JSON.parse(line));
      }
    }
  })();
  const held: Deno.TcpConn[] = [];
  try {
    await until(() => ports !== undefined || exited, "the child to listen", 60_000);
    assert(ports, "the child did not start");
    const [tcpPort, wsPort] = ports;
    await legitTcpEcho(tcpPort, 1);
    // More connections than the child can hold: its accepts fail with EMFILE.
    for (let i = 0; i < 120; i++) held.push(await rawConnect(tcpPort));
    await until(() => lines.some((l) => l.message === "TCP accept failed, retrying"), "EMFILE");
    // A WebSocket connect now makes Deno.serve's accept fail: the supervisor restarts it.
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`);
    const wsDone = new Promise<void>((resolve) => {
      ws.onerror = () => resolve();
      ws.onclose = () => resolve();
      ws.onopen = () => {
        ws.close();
        resolve();
      };
    });
    await Promise.race([wsDone, new Promise((r) => setTimeout(r, 3000))]);
    for (const c of held.splice(0)) closeQuietly(c);
    assert(!exited, "the child died");
    // Descriptors are back: fresh clients of both listeners are served.
    let served = false;
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      served = await legitTcpEcho(tcpPort, 2).then(() => true, () => false);
      if (!served) await new Promise((r) => setTimeout(r, 200));
    }
    assert(served, "no TCP client served after EMFILE");
    served = false;
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      served = await legitWsEcho(wsPort, 3).then(() => true, () => false);
      if (!served) await new Promise((r) => setTimeout(r, 200));
    }
    assert(served, "no WebSocket client served after EMFILE");
    assert(!exited, "the child died");
    assert(
      !lines.some((l) => l.level === "fatal"),
      JSON.stringify(lines.filter((l) => l.level === "fatal")),
    );
    const failed = lines.find((l) => l.message === "TCP accept failed, retrying");
    assert(failed?.error, "the accept failure was logged with its error");
    // Deno.serve ended on its failed accept and the supervisor started it again.
    assert(lines.some((l) => l.message === "WebSocket server failed, restarting"));
  } finally {
    for (const c of held) closeQuietly(c);
    if (!exited) Deno.kill(child.pid, "SIGKILL");
    await status;
    await reading.catch(() => {});
  }
});
