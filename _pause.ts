// Internal: a pause that can be cut short, for backoff loops that must stop at once when
// their owner closes (the TCP accept loop, the WebSocket supervisor, reconnecting links).

/** One pause at a time: `sleep` resolves after `ms`, or at once on `wake()`. */
export class Pause {
  #wake: (() => void) | undefined;

  /** Resolves after `ms`, or when {@linkcode Pause.wake} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Ends the current pause now (nothing happens when none runs). */
  wake(): void {
    this.#wake?.();
  }
}
