// Memory a TCP listener holds per idle connection and per byte of a partial frame in flight.
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc bench/connection_memory.ts [--connections 1000]
//
// The server (this process) runs a Node with `listenTcp` and an echo service; a child process
// (this script with `--client`) opens the connections, so only the server's side is measured.
// Phases, each measured after two forced GCs as the delta from the phase before:
//   idle      N connections that sent the version byte and then nothing
//   headers   8 more that sent a frame header announcing 16 MiB, then nothing
//   partial   8 more that sent that header and 1 MiB of the body, then nothing
// Columns: heapUsed, external (ArrayBuffers live there), their sum, and RSS.
import { Node, startEcho } from "../routing/mod.ts";
import { listenTcp } from "../transport/deno.ts";

const ANNOUNCED = 16 * 1024 * 1024;
const BODY = 1024 * 1024;
const FRAMED = 8;

function argument(name: string, fallback: number): number {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

function header(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

/** Child: opens connections of one kind on request, replies "ok" per phase, never reads. */
async function client(port: number): Promise<void> {
  const held: Deno.TcpConn[] = [];
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  const encoder = new TextEncoder();
  let pending = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    pending += value;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const [kind, count] = pending.slice(0, newline).split(" ");
      pending = pending.slice(newline + 1);
      for (let i = 0; i < Number(count); i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const parts = [new Uint8Array([1])];
        if (kind !== "idle") parts.push(header(ANNOUNCED));
        if (kind === "partial") parts.push(new Uint8Array(BODY).fill(7));
        for (const part of parts) await conn.write(part);
        held.push(conn);
      }
      await Deno.stdout.write(encoder.encode("ok\n"));
    }
  }
  for (const conn of held) conn.close();
}

interface Sample {
  heap: number;
  external: number;
  rss: number;
}

function sample(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  gc();
  gc();
  const m = Deno.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}

async function server(): Promise<void> {
  const connections = argument("--connections", 1000);
  await using node = new Node();
  await using listener = listenTcp(node);
  startEcho(node, { consumes: [listener.flow] });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--client", String(listener.port)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const replies = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const settle = async (expected: number): Promise<void> => {
    while (listener.connections.size < expected) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500)); // let the reads reach their idle state
  };
  const phase = async (kind: string, count: number, total: number): Promise<void> => {
    await writer.write(new TextEncoder().encode(`${kind} ${count}\n`));
    let got = "";
    while (!got.includes("ok\n")) got += (await replies.read()).value ?? "";
    await settle(total);
  };

  const rows: string[] = [];
  const row = (what: string, per: number, unit: string, a: Sample, b: Sample): void => {
    const f = (bytes: number) => (bytes / per).toFixed(unit === "byte" ? 3 : 0);
    rows.push(
      `| ${what} | ${per} ${unit}s | ${f(b.heap - a.heap)} | ${f(b.external - a.external)} | ${
        f(b.heap + b.external - a.heap - a.external)
      } | ${f(b.rss - a.rss)} |`,
    );
  };

  const base = sample();
  await phase("idle", connections, connections);
  const idle = sample();
  row("idle connection (version byte sent)", connections, "connection", base, idle);
  await phase("headers", FRAMED, connections + FRAMED);
  const headers = sample();
  row("16 MiB frame header, no body (per connection)", FRAMED, "connection", idle, headers);
  await phase("partial", FRAMED, connections + 2 * FRAMED);
  const partial = sample();
  row(
    "16 MiB header + 1 MiB of body (per byte in flight)",
    FRAMED * BODY,
    "byte",
    headers,
    partial,
  );

  await writer.close();
  await child.status;
  // deno-lint-ignore no-console
  console.log(
    [
      `Deno ${Deno.version.deno}, ${connections} idle connections, ${FRAMED} per frame phase`,
      "",
      "| what | divided by | heapUsed B | external B | heap + external B | rss B |",
      "|---|---|---:|---:|---:|---:|",
      ...rows,
    ].join("\n"),
  );
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--client");
  if (at >= 0) await client(Number(Deno.args[at + 1]));
  else await server();
}
