// Inlet and outlet over a secure channel on one node, with real loopback TCP on both
// sides: half-close, idle close, Ockam's plain protocol, a peer breaking its window, a
// refused Ping answered at once. No timing is asserted.
import assert from "node:assert/strict";
import {
  abacAccessControl,
  createSecureChannel,
  createSecureChannelListener,
  LOCAL_INFO_ATTRIBUTES,
  type SecureChannel,
} from "../channel/mod.ts";
import { createIdentity } from "../identity/mod.ts";
import { LOCAL_INFO_IDENTIFIER, type Logger, Node } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";
import { createTcpInlet, createTcpOutlet, type TcpInlet } from "./deno.ts";
import {
  decodePortalMessage,
  encodePortalMessage,
  openPortal,
  type Outlet,
  startOutlet,
} from "./mod.ts";

interface Setup extends AsyncDisposable {
  node: Node;
  channel: SecureChannel;
  outlet: Outlet;
  inlet: TcpInlet;
  logs: string[];
}

async function setup(
  to: string,
  options: { idleTimeout?: number; plain?: boolean } = {},
): Promise<Setup> {
  const logs: string[] = [];
  const log = (level: string) => (m: string) => logs.push(`${level} ${m}`);
  const logger: Logger = {
    debug: () => {},
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
  const node = new Node({ logger });
  const listener = await createSecureChannelListener(node, "api", {
    identity: await createIdentity(new Vault()),
  });
  const tuning = options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout };
  const outlet = createTcpOutlet(node, { to, consumes: [listener.flow], ...tuning });
  const channel = await createSecureChannel(node, "api", {
    identity: await createIdentity(new Vault()),
  });
  const inlet = createTcpInlet(node, {
    route: [channel.address, "outlet"],
    ...tuning,
    ...(options.plain ? { plain: true } : {}),
  });
  return {
    node,
    channel,
    outlet,
    inlet,
    logs,
    [Symbol.asyncDispose]: async () => {
      await inlet.close();
      await node.close();
    },
  };
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** A service that reads until the client is done writing, then answers and closes. */
function answerAfterEnd(): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const request = await readAll(conn);
        await conn.write(new TextEncoder().encode(`got ${request.length} bytes`));
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return listener;
}

Deno.test({
  name: "portal: half-close is carried: the service sees the end, then answers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    using service = answerAfterEnd();
    await using s = await setup(`127.0.0.1:${service.addr.port}`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.inlet.port });
    const request = new Uint8Array(100_000).fill(7);
    let at = 0;
    while (at < request.length) at += await conn.write(request.subarray(at));
    await conn.closeWrite();
    const answer = new TextDecoder().decode(await readAll(conn));
    conn.close();
    assert.equal(answer, "got 100000 bytes");
  },
});

Deno.test({
  name: "portal: an idle connection is closed on both sides",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const service = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of service) held.push(c);
    })().catch(() => {});
    try {
      await using s = await setup(`127.0.0.1:${service.addr.port}`, { idleTimeout: 150 });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.inlet.port });
      const n = await conn.read(new Uint8Array(8)).catch(() => null); // nothing ever comes
      conn.close();
      assert.equal(n, null);
      assert(
        s.logs.some((l) => l.startsWith("info inlet: portal connection idle")) ||
          s.logs.some((l) => l.startsWith("info outlet: portal connection idle")),
      );
      // The service's side of the portal was closed as well.
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await held[0]!.read(new Uint8Array(8)).catch(() => null), null);
    } finally {
      for (const c of held) c.close();
      service.close();
      await accepting;
    }
  },
});

Deno.test({
  name: "portal: Ockam's plain protocol (no extension) moves bytes; its end closes the portal",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const service = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      for await (const c of service) c.readable.pipeTo(c.writable).catch(() => {});
    })().catch(() => {});
    try {
      await using s = await setup(`127.0.0.1:${service.addr.port}`, { plain: true });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.inlet.port });
      const sent = new Uint8Array(300_000).map((_, i) => i & 0xff);
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
      assert.deepEqual(got, sent);
      const [portal] = [...s.inlet.connections];
      assert(portal && !portal.extended);
      conn.close();
      assert.equal((await portal.closed).reason, "closed");
    } finally {
      service.close();
      await serving;
    }
  },
});

Deno.test("portal: a refused Ping is answered with Disconnect at once, with a reason", async () => {
  await using node = new Node();
  const outlet = startOutlet(node, {
    target: "t",
    connect: () => Promise.reject(new Error("nothing there")),
    access: () => false,
  });
  const plain = await node.request(outlet.address, encodePortalMessage({ type: "ping" }));
  assert.deepEqual(decodePortalMessage(plain.payload), { type: "disconnect" }); // Ockam peer
  const offered = await node.request(
    outlet.address,
    encodePortalMessage({ type: "ping", window: 1024 }),
  );
  assert.deepEqual(decodePortalMessage(offered.payload), { type: "disconnect", reason: "refused" });
  assert.equal(outlet.refused, 2);
});

Deno.test("portal: a peer sending past its window is disconnected (protocol)", async () => {
  await using node = new Node();
  const written: number[] = [];
  let closed = false;
  const outlet = startOutlet(node, {
    target: "t",
    window: 1000,
    connect: () =>
      Promise.resolve({
        read: () => new Promise<null>(() => {}),
        write: (b: Uint8Array) => (written.push(b.length), Promise.resolve()),
        closeWrite: () => Promise.resolve(),
        close: () => {
          closed = true;
        },
      }),
  });
  const replies: string[] = [];
  node.startWorker("fake-inlet", (ctx) => {
    replies.push(decodePortalMessage(ctx.message.payload).type);
  });
  await node.send(outlet.address, encodePortalMessage({ type: "ping", window: 1000 }), {
    from: "fake-inlet",
  });
  while (outlet.connections.size === 0) await new Promise((r) => setTimeout(r, 2));
  const [connection] = [...outlet.connections];
  const send = (n: number, counter: number) =>
    node.send(
      connection!.address,
      encodePortalMessage({ type: "payload", data: new Uint8Array(n), counter }),
      { from: "fake-inlet" },
    );
  await send(600, 0);
  await node.drained(connection!.address); // written, and 600 bytes of credit given back
  await send(1001, 1); // more than the whole window
  const close = await connection!.closed;
  assert.deepEqual(close, { reason: "protocol", by: "local" });
  assert.deepEqual(written, [600]);
  assert(closed);
  await node.drained("fake-inlet");
  assert.deepEqual(replies.slice(0, 1), ["pong"]);
  assert(replies.includes("disconnect"));
});

Deno.test("portal: a payload lost on the way (a counter gap) ends the connection", async () => {
  await using node = new Node();
  const written: number[] = [];
  const outlet = startOutlet(node, {
    target: "t",
    connect: () =>
      Promise.resolve({
        read: () => new Promise<null>(() => {}),
        write: (b: Uint8Array) => (written.push(b.length), Promise.resolve()),
        closeWrite: () => Promise.resolve(),
        close: () => {},
      }),
  });
  node.startWorker("fake-inlet", () => {});
  await node.send(outlet.address, encodePortalMessage({ type: "ping", window: 4096 }), {
    from: "fake-inlet",
  });
  while (outlet.connections.size === 0) await new Promise((r) => setTimeout(r, 2));
  const [connection] = [...outlet.connections];
  for (const counter of [0, 1, 3]) {
    await node.send(
      connection!.address,
      encodePortalMessage({ type: "payload", data: new Uint8Array(10), counter }),
      { from: "fake-inlet" },
    );
  }
  assert.deepEqual(await connection!.closed, { reason: "protocol", by: "local" });
  assert.deepEqual(written, [10, 10]);
});

Deno.test("portal: an ABAC policy at the outlet admits one role and refuses another", async () => {
  await using node = new Node();
  const outlet = startOutlet(node, {
    target: "t",
    connect: () =>
      Promise.resolve({
        read: () => new Promise<null>(() => {}),
        write: () => Promise.resolve(),
        closeWrite: () => Promise.resolve(),
        close: () => {},
      }),
    access: abacAccessControl('(= subject.role "ops")'),
  });
  const ping = (role: string) =>
    node.request(outlet.address, encodePortalMessage({ type: "ping", window: 4096 }), {
      localInfo: {
        [LOCAL_INFO_IDENTIFIER]: "I" + "00".repeat(32),
        [LOCAL_INFO_ATTRIBUTES]: { role: new TextEncoder().encode(role) },
      },
    }).then((reply) => decodePortalMessage(reply.payload));
  assert.deepEqual(await ping("ops"), { type: "pong", window: 256 * 1024 });
  assert.deepEqual(await ping("viewer"), { type: "disconnect", reason: "refused" });
  assert.equal(outlet.refused, 1);
  await outlet.close();
});

Deno.test("portal: against an Ockam-style outlet the inlet speaks Ockam's bytes only", async () => {
  await using node = new Node();
  // Ockam's outlet as its Rust code behaves: reads the first byte of Ping, answers a plain
  // Pong from a new worker, echoes each payload back as Rust encodes it (no counter).
  const seen: Uint8Array[] = [];
  node.startWorker("ockam-outlet", async (ctx) => {
    assert.equal(ctx.message.payload[0], 0); // Ping, whatever follows
    const inlet = ctx.message.returnRoute;
    node.startWorker("ockam-connection", async (c) => {
      seen.push(c.message.payload.slice());
      const m = decodePortalMessage(c.message.payload);
      if (m.type === "payload") {
        await c.send(inlet, encodePortalMessage({ type: "payload", data: m.data }));
      }
    });
    await node.send(inlet, new Uint8Array([1]), { from: "ockam-connection" });
  });
  const input = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
  const output: Uint8Array[] = [];
  let ended!: () => void;
  const eof = new Promise<null>((resolve) => ended = () => resolve(null));
  const portal = openPortal(node, {
    read: (buffer) => {
      const next = input.shift();
      if (!next) return eof;
      buffer.set(next);
      return Promise.resolve(next.length);
    },
    write: (bytes) => (output.push(bytes.slice()), Promise.resolve()),
    closeWrite: () => Promise.resolve(),
    close: () => {},
  }, { route: "ockam-outlet" });
  while (output.length < 2) await new Promise((r) => setTimeout(r, 2));
  assert(!portal.extended);
  assert.deepEqual(output, [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
  ended(); // the client is done: Ockam's semantics, Disconnect
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 2));
  // Exactly Rust's encodings: payloads without a counter, then Disconnect `02`.
  assert.deepEqual(seen.map((b) => [...b]), [[3, 3, 1, 2, 3], [3, 2, 4, 5], [2]]);
  portal.close("closed", false);
});
