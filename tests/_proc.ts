// Subprocess helpers of the role tests: a running `sealroute` subcommand whose stdout lines
// can be awaited and counted, and a one-shot run.

export const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}cli/main.ts`;

/** A running `sealroute` subcommand whose stdout lines can be awaited. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #waiters: (() => void)[] = [];
  readonly done: Promise<Deno.CommandStatus>;
  stderr = "";

  constructor(args: string[], options: { env?: Record<string, string> } = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...args],
      cwd: ROOT,
      ...(options.env ? { env: options.env } : {}),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const outDone = this.#read(this.child.stdout, (line) => this.lines.push(line));
    const errDone = this.#read(this.child.stderr, (line) => this.stderr += `${line}\n`);
    this.done = Promise.all([this.child.status, outDone, errDone]).then(([s]) => s);
  }

  async #read(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        onLine(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Lines matching `pattern` so far. */
  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }

  /**
   * Resolves with the first line matching `pattern` at or after line `from`; rejects when
   * the process exits without one (or after the hang guard, `guardMs`).
   */
  async waitFor(pattern: RegExp, options: { from?: number; guardMs?: number } = {}) {
    const guard = setTimeout(() => this.child.kill("SIGKILL"), options.guardMs ?? 60_000);
    try {
      for (let seen = options.from ?? 0;;) {
        for (; seen < this.lines.length; seen++) {
          const m = pattern.exec(this.lines[seen]!);
          if (m) return m;
        }
        const exited = await Promise.race([
          new Promise<false>((r) => this.#waiters.push(() => r(false))),
          this.done.then(() => true),
        ]);
        if (exited && seen >= this.lines.length) {
          throw new Error(`no line matching ${pattern}; stderr: ${this.stderr}`);
        }
      }
    } finally {
      clearTimeout(guard);
    }
  }

  /** Sends `signal` if the process still runs. */
  signal(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch { /* exited */ }
  }

  /** SIGTERM, then waits for the exit. */
  stop(): Promise<Deno.CommandStatus> {
    this.signal("SIGTERM");
    return this.done;
  }
}

/** Runs a subcommand to its end (hang guard 60 s). */
export async function run(
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    ...(options.env ? { env: options.env } : {}),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // hang guard
  const out = await child.output();
  clearTimeout(guard);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * Waits for a `client` run's `client done k=v …` line and a zero exit status; resolves the
 * line's fields (hang guard `guardMs`).
 */
export async function clientDone(proc: Proc, guardMs = 90_000): Promise<Record<string, string>> {
  const { input: line } = await proc.waitFor(/^client done /, { guardMs });
  const status = await proc.done;
  if (status.code !== 0) throw new Error(`client exited with ${status.code}: ${proc.stderr}`);
  return Object.fromEntries(
    line.split(" ").slice(2).map((kv) => kv.split("=") as [string, string]),
  );
}
