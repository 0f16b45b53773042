// Static check: no import cycles among the repository's modules (types included), from every
// export in deno.json. Prints each cycle found and exits 1 if there is any.
const config = JSON.parse(await Deno.readTextFile("deno.json"));
const root = new URL("..", import.meta.url).href;
const edges = new Map<string, Set<string>>();
for (const entry of Object.values(config.exports as Record<string, string>)) {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry] }).output();
  if (!out.success) throw new Error(`deno info ${entry} failed`);
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
    }[];
  };
  for (const m of graph.modules) {
    if (!m.specifier.startsWith(root)) continue;
    const to = edges.get(m.specifier) ?? new Set<string>();
    for (const d of m.dependencies ?? []) {
      for (const s of [d.code?.specifier, d.type?.specifier]) if (s?.startsWith(root)) to.add(s);
    }
    edges.set(m.specifier, to);
  }
}
const state = new Map<string, 1 | 2>();
const path: string[] = [];
const cycles = new Set<string>();
const visit = (u: string): void => {
  state.set(u, 1);
  path.push(u);
  for (const v of edges.get(u) ?? []) {
    if (state.get(v) === 1) {
      cycles.add(path.slice(path.indexOf(v)).map((s) => s.slice(root.length)).join(" -> "));
    } else if (!state.has(v)) visit(v);
  }
  path.pop();
  state.set(u, 2);
};
for (const u of edges.keys()) if (!state.has(u)) visit(u);
for (const c of cycles) console.error(`import cycle: ${c}`);
if (cycles.size) Deno.exit(1);
console.log(`no import cycles among ${edges.size} modules`);
