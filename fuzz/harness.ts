// Runs one fuzz target: fast-check over its inputs, each case checked to end in a value or
// a SealrouteError within a time bound, the heap measured around the whole target.
import fc from "fast-check";
import { SealrouteError } from "../errors.ts";
import type { Target } from "./targets.ts";

/** How a target is run. */
export interface RunOptions {
  /** Cases to run. */
  cases: number;
  /** fast-check seed. */
  seed: number;
  /** fast-check path of a counterexample, to replay it alone. */
  path?: string;
  /** A case slower than this twice in a row fails. */
  maxCaseMs: number;
  /** The heap and external memory (after GC) growing more than this over the target fails. */
  maxHeapGrowth: number;
}

/** What the cases of a target ended in. */
export interface Outcome {
  /** Cases that returned a value. */
  values: number;
  /** Cases that threw, by `Name:code`. */
  errors: Map<string, number>;
  /** The slowest case, in milliseconds. */
  slowest: number;
}

/** The result of one target. */
export interface Row {
  /** The target. */
  target: Target;
  /** Its cases' outcomes (shrinking runs included). */
  outcome: Outcome;
  /** Wall time. */
  seconds: number;
  /** Heap growth in bytes, when `gc` is exposed. */
  growth: number | undefined;
  /** The failure report, if it failed. */
  failure: string | undefined;
}

interface Timed {
  error: unknown;
  ms: number;
}

// What one case must satisfy: a value or a SealrouteError, not slower than the bound twice
// in a row (a lone slow case is retried once, so a GC pause or a busy machine does not
// fail a run).
function checker(outcome: Outcome, maxCaseMs: number) {
  const settle = (error: unknown, ms: number): void => {
    if (error === undefined) {
      outcome.values++;
    } else if (error instanceof SealrouteError) {
      const key = `${error.name}:${error.code}`;
      outcome.errors.set(key, (outcome.errors.get(key) ?? 0) + 1);
    } else {
      throw error;
    }
    if (ms > outcome.slowest) outcome.slowest = ms;
  };
  const once = (run: () => unknown): Timed | Promise<Timed> => {
    const start = performance.now();
    const elapsed = () => performance.now() - start;
    let result: unknown;
    try {
      result = run();
    } catch (error) {
      return { error: error ?? new Error("threw undefined"), ms: elapsed() };
    }
    if (result instanceof Promise) {
      return result.then(
        () => ({ error: undefined, ms: elapsed() }),
        (error: unknown) => ({
          error: error ?? new Error("rejected with undefined"),
          ms: elapsed(),
        }),
      );
    }
    return { error: undefined, ms: elapsed() };
  };
  const finish = (first: Timed, again?: Timed): void => {
    if (again !== undefined && again.ms > maxCaseMs) {
      throw new Error(
        `case took ${first.ms.toFixed(0)} ms, then ${again.ms.toFixed(0)} ms (bound ${maxCaseMs})`,
      );
    }
    settle(first.error, again === undefined ? first.ms : Math.min(first.ms, again.ms));
  };
  return <T>(_input: T, run: () => unknown): Promise<void> | void => {
    const first = once(run);
    if (first instanceof Promise) {
      return first.then(async (f) => finish(f, f.ms > maxCaseMs ? await once(run) : undefined));
    }
    if (first.ms <= maxCaseMs) return finish(first);
    const again = once(run);
    if (again instanceof Promise) throw new Error("a synchronous target returned a promise");
    finish(first, again);
  };
}

async function heapUsed(): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external; // byte arrays live outside the JS heap
}

/** A fuzz input as text: byte arrays in hex (at most 4 KiB shown), strings quoted. */
export function showInput(value: unknown): string {
  if (value instanceof Uint8Array) {
    const hex = Array.from(value.subarray(0, 4096), (b) => b.toString(16).padStart(2, "0"))
      .join("");
    return value.length > 4096 ? `${hex}… (${value.length} bytes)` : hex || "(empty)";
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(showInput).join(", ")}]`;
  return String(value);
}

/** Runs `target` and reports how it went. */
export async function runTarget(target: Target, options: RunOptions): Promise<Row> {
  const outcome: Outcome = { values: 0, errors: new Map(), slowest: 0 };
  const before = await heapUsed();
  const start = performance.now();
  const parameters: fc.Parameters<[unknown]> = { numRuns: options.cases, seed: options.seed };
  if (options.path !== undefined) parameters.path = options.path;
  const property = target.property(checker(outcome, options.maxCaseMs));
  const details = target.async
    ? await fc.check(property as fc.IAsyncProperty<[unknown]>, parameters)
    : fc.check(property as fc.IProperty<[unknown]>, parameters);
  const seconds = (performance.now() - start) / 1000;
  const after = await heapUsed();
  const growth = before === undefined || after === undefined ? undefined : after - before;
  let failure: string | undefined;
  if (details.failed) {
    const error = details.errorInstance;
    failure = [
      fc.defaultReportMessage(details),
      `counterexample (hex): ${showInput(details.counterexample?.[0])}`,
      `error: ${error instanceof Error ? error.stack : String(error)}`,
      `replay: npx -y deno@2.9.6 task fuzz --target ${target.name} --seed ${details.seed} ` +
      `--path ${details.counterexamplePath ?? ""} --cases ${options.cases}`,
    ].join("\n");
  } else if (growth !== undefined && growth > options.maxHeapGrowth) {
    failure = `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over ${options.cases} cases ` +
      `(bound ${(options.maxHeapGrowth / 2 ** 20).toFixed(0)} MiB); replay: ` +
      `npx -y deno@2.9.6 task fuzz --target ${target.name} --seed ${options.seed} --cases ${options.cases}`;
  }
  return { target, outcome, seconds, growth, failure };
}

/** One line about a finished target. */
export function summary(row: Row): string {
  const { outcome } = row;
  const errors = [...outcome.errors.values()].reduce((a, b) => a + b, 0);
  const top = [...outcome.errors.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3)
    .map(([code, n]) => `${code} ${n}`).join(", ");
  return `${row.failure ? "FAIL" : "ok  "} ${row.target.name.padEnd(32)} ` +
    `${row.seconds.toFixed(1).padStart(6)} s  values ${outcome.values}, typed errors ${errors}` +
    ` (${top || "none"}), slowest ${outcome.slowest.toFixed(1)} ms` +
    (row.growth === undefined ? "" : `, heap ${(row.growth / 2 ** 20).toFixed(1)} MiB`);
}
