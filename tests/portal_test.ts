// Portals end to end, in one process over real loopback TCP: an HTTP server and a TCP echo
// service behind an outlet on a device, reached through an inlet on a client, the client's
// secure channel and a relay node whose recording hop checks it sees only ciphertext.
// Nothing here asserts how long anything took; timeouts are hang guards only.
import assert from "node:assert/strict";
import { trustIdentifiers } from "../identity/mod.ts";
import { DEFAULT_PORTAL_WINDOW, MAX_PORTAL_PAYLOAD_SIZE } from "../portal/mod.ts";
import { contains, portalStack } from "./_portal_stack.ts";
import { Proc } from "./_proc.ts";

const MARKER = new TextEncoder().encode("SEALROUTE-PORTAL-PLAINTEXT-MARKER");

/** `size` bytes of a seeded pattern with the marker every 4 KiB. */
function body(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  for (let at = 0; at + MARKER.length <= size; at += 4096) out.set(MARKER, at);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An HTTP server echoing each request body. */
function httpServer(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return new Response(bytes, { headers: { "x-size": String(bytes.length) } });
  });
}

Deno.test({
  name: "portal: 100 HTTP requests, 0 B..8 MiB, 50 at once, through inlet, channel and relay",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = httpServer();
    await using stack = await portalStack({
      to: `127.0.0.1:${server.addr.port}`,
      markers: [MARKER],
    });
    const base = `http://127.0.0.1:${stack.inlet.port}`;
    const max = 8 * 1024 * 1024;
    const sizes = Array.from(
      { length: 100 },
      (_, i) =>
        i === 0 ? 0 : i === 99 ? max : Math.round(Math.pow(max, i / 99) * (i % 7 === 0 ? 1 : 0.37)),
    );
    let peak = 0;
    let next = 0;
    const failures: string[] = [];
    // 50 workers, each with its own HTTP client: 50 TCP connections open at once.
    const worker = async () => {
      const http = Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
      try {
        for (let i = next++; i < sizes.length; i = next++) {
          const sent = body(sizes[i]!, i);
          const response = await fetch(`${base}/echo/${i}`, {
            method: "POST",
            body: sent,
            client: http,
          });
          peak = Math.max(peak, stack.inlet.connections.size);
          const got = new Uint8Array(await response.arrayBuffer());
          if (response.status !== 200 || !sameBytes(got, sent)) {
            failures.push(
              `request ${i} (${sizes[i]} B): status ${response.status}, ${got.length} B`,
            );
          }
        }
      } finally {
        http.close();
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    assert.deepEqual(failures, []);
    assert(peak >= 50, `at most ${peak} connections were open at once`);
    // The relay forwarded every byte and saw none of them in clear.
    assert(stack.seen.bytes > 2 * sizes.reduce((a, b) => a + b, 0));
    assert.equal(stack.seen.plaintext, 0);
    // Every connection used the extension (both ends are Sealroute).
    assert(stack.clientLogs.some((l) =>
      l.message === "inlet: portal connection open" &&
      l.fields?.extended === true
    ));
  },
});

Deno.test({
  name: "portal: curl through the inlet gets the service's bytes",
  ignore: !(await hasCurl()),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = httpServer();
    await using stack = await portalStack({ to: `127.0.0.1:${server.addr.port}` });
    const dir = await Deno.makeTempDir();
    try {
      const sent = body(3 * 1024 * 1024 + 17, 7);
      await Deno.writeFile(`${dir}/in.bin`, sent);
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--fail",
          "--max-time",
          "60",
          "--data-binary",
          `@${dir}/in.bin`,
          "-o",
          `${dir}/out.bin`,
          `http://127.0.0.1:${stack.inlet.port}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert(sameBytes(await Deno.readFile(`${dir}/out.bin`), sent));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function hasCurl(): Promise<boolean> {
  try {
    const out = await new Deno.Command("which", { args: ["curl"], stdout: "null", stderr: "null" })
      .output();
    return out.code === 0;
  } catch {
    return false;
  }
}

/** A TCP echo service. */
function echoService(): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      conn.readable.pipeTo(conn.writable).catch(() => {});
    }
  })().catch(() => {});
  return listener;
}

Deno.test({
  name: "portal: 64 MiB both ways through an echo service, slow reader, bounded buffers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    using echo = echoService();
    await using stack = await portalStack({ to: `127.0.0.1:${echo.addr.port}` });
    const total = 64 * 1024 * 1024;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
    const chunk = 256 * 1024;
    const pattern = (i: number) => (i * 7 + (i >>> 16)) & 0xff;
    let sum = 0;
    const writing = (async () => {
      const buf = new Uint8Array(chunk);
      for (let at = 0; at < total; at += chunk) {
        for (let i = 0; i < chunk; i++) buf[i] = pattern(at + i);
        for (let i = 0; i < chunk; i++) sum = (sum + buf[i]! * ((at + i) % 251 + 1)) % 0x7fffffff;
        let off = 0;
        while (off < chunk) off += await conn.write(buf.subarray(off));
      }
      await conn.closeWrite();
    })();
    // The two connections of this portal (one at the inlet, one at the outlet).
    while (stack.inlet.connections.size === 0 || stack.outlet.connections.size === 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const portals = [...stack.inlet.connections, ...stack.outlet.connections];
    let received = 0;
    let back = 0;
    let mismatches = 0;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) {
        const at = received + i;
        const b = buf[i]!;
        if (b !== pattern(at)) mismatches++;
        back = (back + b * (at % 251 + 1)) % 0x7fffffff;
      }
      received += n;
      // Deliberately slow for the first 16 MiB: the portal must hold the far side back.
      if (received < 16 * 1024 * 1024) await new Promise((r) => setTimeout(r, 2));
    }
    await writing;
    conn.close();
    assert.equal(received, total);
    assert.equal(mismatches, 0);
    assert.equal(back, sum);
    // Every portal connection on either side stayed within one window per direction.
    const stats = portals.map((c) => c.stats);
    assert.equal(stats.length, 2);
    for (const s of stats) {
      assert.equal(s.bytesSent, total);
      assert.equal(s.bytesReceived, total);
      assert(
        s.peakUnacknowledged <= DEFAULT_PORTAL_WINDOW,
        `unacknowledged ${s.peakUnacknowledged}`,
      );
      assert(s.peakBuffered <= DEFAULT_PORTAL_WINDOW + 64 * 16, `buffered ${s.peakBuffered}`);
    }
    // The slow reader did hold the sender back: a full window was out at some point.
    assert(
      stats.some((s) => s.peakUnacknowledged > DEFAULT_PORTAL_WINDOW - MAX_PORTAL_PAYLOAD_SIZE),
    );
  },
});

Deno.test({
  name: "portal: the outlet's policy refuses a client; both sides log it, the socket closes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    using echo = echoService();
    await using stack = await portalStack({
      to: `127.0.0.1:${echo.addr.port}`,
      policy: trustIdentifiers("I" + "ab".repeat(32)),
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
    await conn.write(new TextEncoder().encode("hello")).catch(() => 0);
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    conn.close();
    assert.equal(n, null);
    assert.equal(stack.outlet.refused, 1);
    const device = stack.deviceLogs.find((l) => l.message.startsWith("outlet: portal refused"));
    assert(device, "the device logs the refusal");
    assert.match(device.message, /does not satisfy the outlet's policy/);
    assert.equal(device.fields?.peer, stack.clientIdentity.identifier);
    const client = stack.clientLogs.find((l) => l.message.startsWith("inlet: portal refused"));
    assert(client, "the client logs the refusal");
    assert.match(client.message, /access policy/);
  },
});

Deno.test({
  name: "portal: a target refusing connections closes the client's socket; the logs say why",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const closedPort = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = l.addr.port;
      l.close();
      return port;
    })();
    await using stack = await portalStack({ to: `127.0.0.1:${closedPort}` });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    conn.close();
    assert.equal(n, null);
    assert(
      stack.deviceLogs.some((l) =>
        l.message.startsWith(`outlet: portal refused: could not connect to 127.0.0.1:${closedPort}`)
      ),
    );
    assert(
      stack.clientLogs.some((l) =>
        l.message === "inlet: portal refused: the outlet could not connect to its target"
      ),
    );
  },
});

Deno.test({
  name: "portal: the client's channel closing closes its portal connections",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    using echo = echoService();
    await using stack = await portalStack({ to: `127.0.0.1:${echo.addr.port}` });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
    await conn.write(new Uint8Array([1, 2, 3]));
    const buf = new Uint8Array(8);
    assert.equal(await conn.read(buf), 3);
    const [outletSide] = [...stack.outlet.connections];
    assert(outletSide);
    await stack.client.session.channel.close();
    assert.equal(await conn.read(buf).catch(() => null), null);
    conn.close();
    // The device's side ended too (the channel's Close reached it).
    assert.equal((await outletSide.closed).reason, "route-lost");
    assert.equal(contains(new Uint8Array([1, 2, 3]), new Uint8Array([2, 3])), true);
  },
});

Deno.test({
  name: "portal: an open portal survives the relay dropping both links (they heal)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    using echo = echoService();
    await using stack = await portalStack({ to: `127.0.0.1:${echo.addr.port}` });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: stack.inlet.port });
    const roundTrip = async (seed: number) => {
      const sent = body(300_000, seed);
      const writing = (async () => {
        let at = 0;
        while (at < sent.length) at += await conn.write(sent.subarray(at));
      })();
      const got = new Uint8Array(sent.length);
      let at = 0;
      while (at < got.length) {
        const n = await conn.read(got.subarray(at));
        if (n === null) break;
        at += n;
      }
      await writing;
      return sameBytes(got, sent);
    };
    assert(await roundTrip(1));
    const registrations = stack.device.registrations;
    const reconnects = stack.client.link.reconnects;
    for (const c of [...stack.relayConnections]) await c.close();
    // Both links are dialled again and the device registers its name again.
    while (
      stack.device.registrations <= registrations || stack.client.link.reconnects <= reconnects ||
      !stack.client.link.connected
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert(await roundTrip(2), "the same TCP connection carries on");
    assert.equal(stack.inlet.connections.size, 1);
    conn.close();
  },
});

Deno.test({
  name: "sealroute outlet + inlet: a device's HTTP service on a local port; --allow refuses others",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using server = httpServer();
    const dir = await Deno.makeTempDir();
    const procs: Proc[] = [];
    try {
      const relay = new Proc(["relay", "--port", "0", "--ws-port", "0", "--state", `${dir}/r`]);
      procs.push(relay);
      const [, tcp, ws] = await relay.waitFor(/^relay ready identifier=I\S+ tcp=(\S+) ws=(\S+)$/);
      const outlet = new Proc([
        ...["outlet", "--relay", tcp!, "--name", "web", "--state", `${dir}/d`],
        ...["--to", `127.0.0.1:${server.addr.port}`],
      ]);
      procs.push(outlet);
      await outlet.waitFor(/^outlet ready .*outlet=outlet to=127\.0\.0\.1:\d+$/);
      const inlet = new Proc([
        ...["inlet", "--relay", `ws://${ws}`, "--to", "web", "--state", `${dir}/c`],
        ...["--listen", "127.0.0.1:0"],
      ]);
      procs.push(inlet);
      const [, port] = await inlet.waitFor(/^inlet ready listen=127\.0\.0\.1:(\d+) to=web /);
      const sent = body(200_000, 3);
      const response = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: sent });
      assert(sameBytes(new Uint8Array(await response.arrayBuffer()), sent));
      assert.equal((await inlet.stop()).code, 0);
      // The device was pinned on first use, in the file `client` keeps.
      const pins = JSON.parse(await Deno.readTextFile(`${dir}/c/known_devices.json`));
      assert.match(pins.web, /^I[0-9a-f]{64}$/);
      // An outlet that allows only someone else: the inlet's client is closed at once.
      assert.equal((await outlet.stop()).code, 0);
      const strict = new Proc([
        ...["outlet", "--relay", tcp!, "--name", "web", "--state", `${dir}/d`],
        ...["--to", `127.0.0.1:${server.addr.port}`, "--allow", "I" + "ab".repeat(32)],
      ]);
      procs.push(strict);
      await strict.waitFor(/^outlet ready /);
      const refused = new Proc([
        ...["inlet", "--relay", `ws://${ws}`, "--to", "web", "--state", `${dir}/c`],
        ...["--listen", "127.0.0.1:0"],
      ]);
      procs.push(refused);
      const [, port2] = await refused.waitFor(/^inlet ready listen=127\.0\.0\.1:(\d+) /);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port2) });
      await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")).catch(() => 0);
      assert.equal(await conn.read(new Uint8Array(64)).catch(() => null), null);
      conn.close();
      assert.equal((await refused.stop()).code, 0);
      assert.equal((await strict.stop()).code, 0);
      assert.match(refused.stderr, /portal refused: the outlet refused this portal/);
      assert.match(strict.stderr, /portal refused: I[0-9a-f]{64} does not satisfy/);
    } finally {
      for (const p of procs) p.signal("SIGKILL");
      await Promise.all(procs.map((p) => p.done));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
