import assert from "node:assert/strict";
import { memoryDuplexPair } from "./duplex.ts";
import { faultDuplex, type FaultDuplexOptions } from "./fault_duplex.ts";

/** Writes `total` bytes in 100-byte chunks through a fault duplex; returns what arrived and its log. */
async function run(options: FaultDuplexOptions, total = 10_000) {
  const [a, b] = memoryDuplexPair();
  const faulty = faultDuplex(a, options);
  const writer = faulty.writable.getWriter();
  const reader = b.readable.getReader();
  let received = 0;
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      received += value!.length;
    }
  })();
  for (let sent = 0; sent < total; sent += 100) {
    const ok = await writer.write(new Uint8Array(100)).then(() => true, () => false);
    if (!ok) break;
  }
  await faulty.close().catch(() => {});
  await reading;
  return { received, log: [...faulty.log] };
}

Deno.test("the same seed gives the same faults at the same byte counts", async () => {
  const options: FaultDuplexOptions = {
    seed: 42,
    random: { meanBytes: 1500, kinds: ["delay"], ms: 5 },
  };
  const first = await run(options);
  const again = await run(options);
  assert.ok(first.log.length > 0);
  assert.deepEqual(first.log, again.log);
  assert.equal(first.received, 10_000, "delays lose nothing");
  const other = await run({ seed: 43, random: { meanBytes: 1500, kinds: ["delay"], ms: 5 } });
  assert.notDeepEqual(other.log, first.log);
});

Deno.test("a cut passes the bytes before it, then the link is gone mid-chunk", async () => {
  const { received, log } = await run({ schedule: [{ afterBytes: 250, kind: "cut" }] });
  assert.deepEqual(log, ["cut at 250"]);
  assert.equal(received, 250, "half of the third chunk crossed, nothing after");
});

Deno.test("a drop strikes at a chunk's end and fails both directions", async () => {
  const [a, b] = memoryDuplexPair();
  const faulty = faultDuplex(a, { schedule: [{ afterBytes: 150, kind: "drop" }] });
  const writer = faulty.writable.getWriter();
  await writer.write(new Uint8Array(100));
  await writer.write(new Uint8Array(100)).catch(() => {});
  await assert.rejects(writer.write(new Uint8Array(100)));
  const reader = faulty.readable.getReader();
  await assert.rejects(reader.read());
  await b.close();
});

Deno.test("a scheduled stall holds bytes for its time, then lets them flow", async () => {
  const started = Date.now();
  const { received, log } = await run({ schedule: [{ afterBytes: 500, kind: "stall", ms: 60 }] });
  assert.equal(received, 10_000);
  assert.deepEqual(log, ["stall at 500"]);
  assert.ok(Date.now() - started >= 50);
});
