// One piece of code for the Noise state machine on both paths: its steps return a value now
// where every primitive they use is synchronous (sync hash, a native AEAD, native curves),
// else a promise, and the driver below awaits only the promises.

/** A value now, or later. */
export type MaybePromise<T> = T | Promise<T>;

/** `f(value)`, now if `value` is ready, else once it resolves. */
export function after<T, U>(value: MaybePromise<T>, f: (ready: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * Runs `steps`, a generator that yields each maybe-promise it needs the value of and gets
 * that value back: synchronously while the yielded values are ready, awaiting from the first
 * promise on. What the generator throws (or a promise it yielded rejects with, thrown into
 * it) is thrown (or rejected) by `run`.
 */
export function run<T>(steps: Generator<unknown, T, unknown>): MaybePromise<T> {
  let step = steps.next();
  while (!step.done) {
    if (step.value instanceof Promise) return resume(steps, step.value);
    step = steps.next(step.value);
  }
  return step.value;
}

async function resume<T>(
  steps: Generator<unknown, T, unknown>,
  pending: Promise<unknown>,
): Promise<T> {
  for (;;) {
    let step: IteratorResult<unknown, T>;
    let value: unknown;
    let failed = false;
    try {
      value = await pending;
    } catch (error) {
      failed = true;
      value = error;
    }
    step = failed ? steps.throw(value) : steps.next(value);
    while (!step.done && !(step.value instanceof Promise)) step = steps.next(step.value);
    if (step.done) return step.value;
    pending = step.value as Promise<unknown>;
  }
}

/** `compute()` as a promise: a synchronous throw becomes a rejection. */
export function settle<T>(compute: () => MaybePromise<T>): Promise<T> {
  try {
    return Promise.resolve(compute());
  } catch (error) {
    return Promise.reject(error);
  }
}
