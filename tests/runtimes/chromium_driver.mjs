// Runs the scenario in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): serves dist/web/ and page.html from a loopback static server, opens the
// page with the hub (argv[2]) in its fragment and waits for globalThis.__scenario.
// Prints `REPORT <json>`; exits 1 on failure.
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, "dist", "web");
const hubJson = process.argv[2] ?? "";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (path === "/favicon.ico") {
    res.writeHead(204).end();
    return;
  }
  const file = path === "/" || path === "/page.html"
    ? join(here, "page.html")
    : normalize(join(web, path));
  if (!file.startsWith(web) && file !== join(here, "page.html")) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = readFileSync(file);
    const type = file.endsWith(".html") ? "text/html; charset=utf-8" : "text/javascript";
    res.writeHead(200, { "content-type": type, "cache-control": "no-store" })
      .end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const port = server.address().port;

const profile = mkdtempSync(join(tmpdir(), "sealroute-chromium-"));
let context;
let status = 1;
try {
  // A persistent context is how playwright takes a --user-data-dir: a fresh one per run.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout: 60_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", (m) => console.error(`[chromium] ${m.text()}`));
  page.on(
    "pageerror",
    (e) => console.error(`[chromium] page error: ${e.message}`),
  );
  await page.goto(
    `http://127.0.0.1:${port}/page.html#${encodeURIComponent(hubJson)}`,
  );
  await page.waitForFunction(
    () => globalThis.__scenario !== undefined,
    undefined,
    {
      timeout: 60_000,
    },
  );
  const result = await page.evaluate(() => globalThis.__scenario);
  if (!result.ok) throw new Error(`the page failed:\n${result.error}`);
  console.log(`REPORT ${JSON.stringify(result.report)}`);
  status = 0;
} catch (error) {
  console.error("[chromium] FAILED:", error);
} finally {
  await context?.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
