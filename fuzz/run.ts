// `task fuzz` / `task fuzz:smoke`: fast-check properties over every decoder and parser
// (fuzz/targets.ts). Each case must end in a value or a SealrouteError, within a time bound;
// each target's heap must not grow past a bound. Prints the seed first; on a failure
// prints the counterexample (hex), its stack and the command that replays it.
//
//   npx -y deno@2.9.6 run -A --v8-flags=--expose-gc fuzz/run.ts [--cases N] [--seed S]
//       [--target NAME]... [--path P] [--max-case-ms MS] [--max-heap-growth-mib MIB] [--list]
import { parseArgs } from "node:util";
import { type Row, runTarget, summary } from "./harness.ts";
import { makeTargets } from "./targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string", default: "100000" },
    seed: { type: "string" },
    target: { type: "string", multiple: true },
    path: { type: "string" },
    "max-case-ms": { type: "string", default: "1000" },
    "max-heap-growth-mib": { type: "string", default: "64" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "fuzz/run.ts [--cases N=100000] [--seed S] [--target NAME]... [--path P]\n" +
      "            [--max-case-ms MS=1000] [--max-heap-growth-mib MIB=64] [--list]",
  );
  Deno.exit(0);
}

function integer(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n)) {
    console.error(`--${name} expects an integer, got '${text}'`);
    Deno.exit(2);
  }
  return n;
}

const cases = integer("cases", values.cases);
// fast-check seeds are 32-bit integers.
const seed = values.seed === undefined
  ? crypto.getRandomValues(new Int32Array(1))[0]!
  : integer("seed", values.seed) | 0;
const maxCaseMs = integer("max-case-ms", values["max-case-ms"]);
const maxHeapGrowth = integer("max-heap-growth-mib", values["max-heap-growth-mib"]) * 2 ** 20;

// The seed comes first, so a run that dies half-way can still be replayed.
console.log(`seed ${seed}`);

const all = await makeTargets();
if (values.list) {
  for (const t of all) console.log(`${t.name.padEnd(34)} ${t.what}`);
  Deno.exit(0);
}
const wanted = values.target ?? [];
const unknown = wanted.filter((name) => !all.some((t) => t.name === name));
if (unknown.length > 0) {
  console.error(`unknown target(s): ${unknown.join(", ")}; --list shows them`);
  Deno.exit(2);
}
const targets = wanted.length === 0 ? all : all.filter((t) => wanted.includes(t.name));
const gc = (globalThis as { gc?: () => void }).gc;
console.log(
  `${targets.length} targets × ${cases} cases, case bound ${maxCaseMs} ms` +
    (gc ? "" : " (run with --v8-flags=--expose-gc to check heap growth)"),
);

const started = performance.now();
const rows: Row[] = [];
for (const target of targets) {
  const options = { cases, seed, maxCaseMs, maxHeapGrowth };
  const row = await runTarget(
    target,
    values.path === undefined ? options : { ...options, path: values.path },
  );
  rows.push(row);
  console.log(summary(row));
  if (row.failure) console.log(row.failure);
}
const failures = rows.filter((r) => r.failure).length;
const wall = (performance.now() - started) / 1000;
console.log(
  `\n${rows.length} targets, ${cases} cases each, seed ${seed}, failures ${failures}, ` +
    `wall ${wall.toFixed(0)} s`,
);
if (failures > 0) Deno.exit(1);
