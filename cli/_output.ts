// What the `sealroute` roles print: one event per line on stdout, as `event k=v …` text or,
// with `--json`, as one JSON object per line (`{"event":"…",…}`). Warnings and errors go to
// stderr. The progress line is rewritten in place on a terminal and printed as lines
// otherwise (and always as lines in JSON mode).

/** A value an event field may hold. */
export type FieldValue = string | number | boolean | undefined;

/** Prints events as text or JSON lines. */
export class Output {
  readonly #json: boolean;
  readonly #terminal: boolean;
  #progressShown = false;

  /** `json`: JSON lines; `terminal`: stdout is a TTY (progress in place). */
  constructor(options: { json?: boolean; terminal?: boolean } = {}) {
    this.#json = options.json ?? false;
    this.#terminal = !this.#json && (options.terminal ?? Deno.stdout.isTerminal());
  }

  /** Whether events are printed as JSON lines. */
  get json(): boolean {
    return this.#json;
  }

  /** One event line: `event k=v …` or `{"event":…,"k":v,…}`; undefined fields are left out. */
  event(event: string, fields: Record<string, FieldValue> = {}): void {
    this.#endProgress();
    console.log(this.#format(event, fields));
  }

  /** A progress line: in place on a terminal, else an ordinary event line. */
  progress(fields: Record<string, FieldValue>): void {
    if (!this.#terminal) return void console.log(this.#format("progress", fields));
    const line = this.#format("progress", fields);
    Deno.stdout.writeSync(new TextEncoder().encode(`\r${line}\x1b[K`));
    this.#progressShown = true;
  }

  /** A warning on stderr (`role: warning: …`, or a JSON `warning` event on stdout). */
  warn(role: string, message: string): void {
    this.#endProgress();
    if (this.#json) console.log(JSON.stringify({ event: "warning", role, message }));
    else console.error(`${role}: warning: ${message}`);
  }

  #endProgress(): void {
    if (!this.#progressShown) return;
    this.#progressShown = false;
    Deno.stdout.writeSync(new TextEncoder().encode("\n"));
  }

  #format(event: string, fields: Record<string, FieldValue>): string {
    const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (this.#json) {
      return JSON.stringify({ event: event.replaceAll(" ", "."), ...Object.fromEntries(defined) });
    }
    return [event, ...defined.map(([k, v]) => `${k}=${v}`)].join(" ");
  }
}
