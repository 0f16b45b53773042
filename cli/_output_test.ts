import assert from "node:assert/strict";
import { Output } from "./_output.ts";

/** Runs `body` with console.log and Deno.stdout.writeSync captured into one string. */
function captured(body: () => void): string {
  let text = "";
  const log = console.log;
  const write = Deno.stdout.writeSync;
  console.log = (line: string) => void (text += `${line}\n`);
  Deno.stdout.writeSync = (bytes: Uint8Array) => {
    text += new TextDecoder().decode(bytes);
    return bytes.length;
  };
  try {
    body();
  } finally {
    console.log = log;
    Deno.stdout.writeSync = write;
  }
  return text;
}

Deno.test("text events: `event k=v`, undefined fields left out", () => {
  const out = new Output({ terminal: false });
  const text = captured(() => out.event("device ready", { name: "x", n: 2, gone: undefined }));
  assert.equal(text, "device ready name=x n=2\n");
});

Deno.test("JSON events: one object per line, the event's words joined by dots", () => {
  const out = new Output({ json: true, terminal: true });
  const text = captured(() => {
    out.event("client done", { replies: "3/3", handshakes: 1 });
    out.progress({ sent: 1 });
  });
  const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { event: "client.done", replies: "3/3", handshakes: 1 },
    { event: "progress", sent: 1 },
  ]);
});

Deno.test("progress: rewritten in place on a terminal, ended by the next event; lines otherwise", () => {
  const tty = captured(() => {
    const out = new Output({ terminal: true });
    out.progress({ sent: 1 });
    out.progress({ sent: 2 });
    out.event("client done");
  });
  assert.equal(tty, "\rprogress sent=1\x1b[K\rprogress sent=2\x1b[K\nclient done\n");
  const pipe = captured(() => {
    const out = new Output({ terminal: false });
    out.progress({ sent: 1 });
    out.progress({ sent: 2 });
  });
  assert.equal(pipe, "progress sent=1\nprogress sent=2\n");
});
