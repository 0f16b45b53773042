// Helpers shared by transport tests (no tests of its own; named _test.ts so publishing excludes it).
import assert from "node:assert/strict";
import type { Logger } from "../routing/mod.ts";

export async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  assert.ok(condition(), "condition not reached in time");
}

export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, debug: () => {}, info: push("info"), warn: push("warn"), error: push("error") };
}
