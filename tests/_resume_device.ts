// The parent side of the resume tests: a device process started, awaited and killed -9.

/** A resume test's device process (`deno run -A <child> <port> <dir>`); its stdout lines are JSON events. */
export class ResumeDevice {
  readonly child: Deno.ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  readonly done: Promise<unknown>;
  constructor(child: string, port: number, dir: string) {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", child, String(port), dir],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.child = process;
    this.done = (async () => {
      let buffer = "";
      for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        for (let i; (i = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(i + 1)) {
          this.events.push(JSON.parse(buffer.slice(0, i)));
        }
      }
      return await process.status;
    })();
  }
  async until(key: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 6000; i++) {
      const event = this.events.find((e) => key in e);
      if (event) return event;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`the device never said ${key}`);
  }
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.done;
  }
}
