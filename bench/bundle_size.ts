/**
 * Bundle sizes: each module alone, the four modules a networked app needs together, and the
 * workerd worker of tests/runtimes, minified and gzipped, with and without the noble
 * fallback. Each entry is bundled by `deno bundle --minify --code-splitting
 * --platform=browser`, so the fallback (`vault/_noble.ts`, reached only by dynamic
 * `import()`) lands in its own chunk: "without noble" is every other chunk, "noble chunk"
 * is what a runtime fetches when it first needs the fallback.
 *
 * ```sh
 * npx -y deno@2.9.6 run --allow-all bench/bundle_size.ts   # prints the markdown table
 * ```
 *
 * @module
 */
const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();

interface Entry {
  name: string;
  /** Source of a generated entry module (imports resolved from the repository root). */
  source: string;
  note: string;
}

const reexport = (...modules: string[]) =>
  modules.map((m) => `export * from "${root}${m}/mod.ts";`).join("\n");

const entries: Entry[] = [
  { name: "vault", source: reexport("vault"), note: "" },
  { name: "identity", source: reexport("identity"), note: "includes vault, cborg" },
  { name: "routing", source: reexport("routing"), note: "includes cborg (TCP codec)" },
  { name: "transport", source: reexport("transport"), note: "includes routing, cborg" },
  { name: "channel", source: reexport("channel"), note: "includes vault, identity, routing" },
  {
    name: "routing + transport + channel + identity",
    source: reexport("routing", "transport", "channel", "identity"),
    note: "target ≤ 60 kB without noble; includes vault",
  },
  {
    name: "an edge client's imports (Node, connectWebSocket, channel, identity, Vault)",
    source: [
      `export { createRelay, Node, startEcho } from "${root}routing/mod.ts";`,
      `export { connectWebSocket } from "${root}transport/mod.ts";`,
      `export { createSecureChannel, createSecureChannelListener } from "${root}channel/mod.ts";`,
      `export { createIdentity, trustIdentifiers } from "${root}identity/mod.ts";`,
      `export { Vault } from "${root}vault/mod.ts";`,
    ].join("\n"),
    note: "named imports: what tree shaking leaves for a typical app",
  },
  {
    name: "edge worker (tests/runtimes/worker.ts)",
    source: `export { default } from "${root}tests/runtimes/worker.ts";`,
    note: "the workerd scenario worker: all modules plus the test vectors",
  },
  {
    name: "(what the Noise hash needs) @noble/hashes sha2 + hmac + hkdf",
    source: [
      `export { sha256, sha512 } from "@noble/hashes/sha2.js";`,
      `export { hmac } from "@noble/hashes/hmac.js";`,
      `export { hkdf } from "@noble/hashes/hkdf.js";`,
    ].join("\n"),
    note: "for comparison with the noble chunk",
  },
];

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

interface Sizes {
  min: number;
  gz: number;
  nobleMin: number;
  nobleGz: number;
}

async function bundle(entry: Entry, dir: string, minify: boolean): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/entry.ts`, entry.source + "\n");
  const out = await new Deno.Command(deno, {
    args: [
      "bundle",
      `--config=${root}deno.json`,
      "--platform=browser",
      ...(minify ? ["--minify"] : []),
      "--code-splitting",
      `--outdir=${dir}/out`,
      `${dir}/entry.ts`,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(
      `deno bundle failed for ${entry.name}:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

async function measure(entry: Entry, work: string): Promise<Sizes> {
  const dir = `${work}/${entries.indexOf(entry)}`;
  await bundle(entry, dir, true);
  const sizes: Sizes = { min: 0, gz: 0, nobleMin: 0, nobleGz: 0 };
  for await (const file of Deno.readDir(`${dir}/out`)) {
    if (!file.name.endsWith(".js")) continue;
    const bytes = await Deno.readFile(`${dir}/out/${file.name}`);
    const gz = await gzipSize(bytes);
    if (file.name.startsWith("_noble-")) {
      sizes.nobleMin += bytes.length;
      sizes.nobleGz += gz;
    } else {
      sizes.min += bytes.length;
      sizes.gz += gz;
    }
  }
  return sizes;
}

/**
 * Apportions the minified size of `entry`'s main chunk among source groups (our modules,
 * each npm package): the unminified bundle marks each source file with a `// path` line;
 * each group's share of that code (comments and whitespace removed) is applied to the
 * minified size. An estimate: minification shrinks some code more than other.
 */
async function breakdown(entry: Entry, work: string, minified: number): Promise<string[]> {
  const dir = `${work}/breakdown`;
  await bundle(entry, dir, false);
  const text = await Deno.readTextFile(`${dir}/out/entry.js`);
  const parts = text.split(/\n\/\/ (\S+)\n/);
  const groups = new Map<string, number>();
  for (let i = 1; i < parts.length; i += 2) {
    const path = parts[i]!;
    const code = parts[i + 1]!.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\n\s*\/\/.*/g, "")
      .replace(/\s+/g, " ");
    const npm = path.match(/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//);
    const group = npm ? `npm:${npm[1]}` : path.replace(/^(\.\.\/)+/, "").replace(/^.*?\/main\//, "")
      .split("/")[0]!;
    groups.set(group, (groups.get(group) ?? 0) + code.length);
  }
  const total = [...groups.values()].reduce((a, b) => a + b, 0);
  return [...groups].sort((a, b) => b[1] - a[1]).map(([group, n]) =>
    `| ${group} | ≈ ${kb(minified * n / total)} |`
  );
}

const kb = (n: number) => n === 0 ? "–" : `${(n / 1000).toFixed(1)}`;

const work = await Deno.makeTempDir({ prefix: "sealroute-bundle-" });
try {
  const rows: string[] = [
    "| bundle | min, without noble | gzip, without noble | noble chunk min | noble chunk gzip | min, with noble | gzip, with noble | note |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  let combined: { entry: Entry; min: number } | undefined;
  for (const entry of entries) {
    const s = await measure(entry, work);
    if (entry.name.startsWith("routing + transport")) combined = { entry, min: s.min };
    rows.push(
      `| ${entry.name} | ${kb(s.min)} | ${kb(s.gz)} | ${kb(s.nobleMin)} | ${kb(s.nobleGz)} | ` +
        `${kb(s.min + s.nobleMin)} | ${kb(s.gz + s.nobleGz)} | ${entry.note} |`,
    );
  }
  console.log(`sizes in kB (1 kB = 1000 bytes); deno ${Deno.version.deno}\n`);
  console.log(rows.join("\n"));
  if (combined) {
    console.log(`\nWhere the ${kb(combined.min)} kB of "${combined.entry.name}" go (estimate):\n`);
    console.log("| source | kB min |\n| --- | ---: |");
    console.log((await breakdown(combined.entry, work, combined.min)).join("\n"));
  }
} finally {
  await Deno.remove(work, { recursive: true });
}
