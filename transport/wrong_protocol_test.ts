// A TCP connection whose peer answers in HTTP (a WebSocket/HTTP port, a web server) closes
// at once with `wrong-protocol`, and a secure-channel handshake over it fails with that error
// instead of waiting for its timeout.
import assert from "node:assert/strict";
import { createSecureChannel } from "../channel/mod.ts";
import { SealrouteError, TransportError } from "../errors.ts";
import { createIdentity } from "../identity/mod.ts";
import { Node } from "../routing/mod.ts";
import { Vault } from "../vault/mod.ts";
import { sniffProtocol } from "./_sniff.ts";
import { connectTcp, reconnectTcp } from "./deno.ts";

const encoder = new TextEncoder();
/** A hang guard only: the failures below come long before it. */
const HANDSHAKE_TIMEOUT = 20_000;

/**
 * Dials `port` and opens a channel to `api` through it; with `late`, only once the
 * connection closed already (the handshake then fails with the reason it closed for).
 */
async function handshakeThrough(
  port: number,
  late = false,
): Promise<{ error: unknown; closed: Error }> {
  await using node = new Node();
  const identity = await createIdentity(new Vault());
  const connection = await connectTcp(node, `127.0.0.1:${port}`);
  if (late) await connection.closed;
  const error = await createSecureChannel(node, connection.route.append("api"), {
    identity,
    timeout: HANDSHAKE_TIMEOUT,
  }).then(() => undefined, (e: unknown) => e);
  return { error, closed: await connection.closed };
}

function assertWrongProtocol(error: unknown): void {
  assert.ok(error instanceof TransportError, `expected a TransportError, got ${error}`);
  assert.equal(error.code, "wrong-protocol");
  assert.match(error.message, /speaks HTTP/);
  assert.match(error.message, /WebSocket\/HTTP port/);
}

Deno.test("a handshake through a Deno.serve HTTP server fails with wrong-protocol", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello"),
  );
  try {
    for (const late of [false, true]) {
      const { error, closed } = await handshakeThrough(server.addr.port, late);
      assertWrongProtocol(error);
      assertWrongProtocol(closed);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("a raw server answering HTTP/1.1 400 fails the handshake with wrong-protocol", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      // Like a web server: read what came, answer in HTTP, hang up.
      await conn.read(new Uint8Array(1024));
      await conn.write(encoder.encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
    } finally {
      conn.close();
    }
  })();
  try {
    const { error, closed } = await handshakeThrough(listener.addr.port);
    assertWrongProtocol(error);
    assertWrongProtocol(closed);
  } finally {
    listener.close();
    await served.catch(() => {});
  }
});

Deno.test("a reconnecting link to an HTTP port stops with wrong-protocol, not redialling", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello"),
  );
  try {
    await using node = new Node();
    const identity = await createIdentity(new Vault());
    const link = await reconnectTcp(node, `127.0.0.1:${server.addr.port}`, { initialDelay: 10 });
    const events: string[] = [];
    link.on((event) => events.push(event.type));
    const error = await createSecureChannel(node, link.route.append("api"), {
      identity,
      timeout: HANDSHAKE_TIMEOUT,
    }).then(() => undefined, (e: unknown) => e);
    assertWrongProtocol(error);
    assertWrongProtocol(await link.closed);
    assert.equal(link.reconnects, 0);
    assert.ok(!events.includes("reconnecting"), events.join());
  } finally {
    await server.shutdown();
  }
});

Deno.test("a peer sending another byte first is still bad-protocol-version", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(new Uint8Array([0x07, 0, 0, 0, 0]));
      await conn.read(new Uint8Array(1024));
    } finally {
      conn.close();
    }
  })();
  try {
    await using node = new Node();
    const connection = await connectTcp(node, `127.0.0.1:${listener.addr.port}`);
    const closed = await connection.closed;
    assert.ok(closed instanceof SealrouteError);
    assert.equal(closed.code, "bad-protocol-version");
  } finally {
    listener.close();
    await served.catch(() => {});
  }
});

Deno.test("sniffProtocol names HTTP, TLS and SSH answers, and nothing else", () => {
  assert.equal(sniffProtocol(encoder.encode("HTTP/1.1 400 Bad Request\r\n"))?.name, "HTTP");
  assert.equal(sniffProtocol(encoder.encode("H"))?.name, "HTTP");
  assert.equal(sniffProtocol(encoder.encode("SSH-2.0-OpenSSH_9.6"))?.name, "SSH");
  assert.equal(sniffProtocol(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02]))?.name, "TLS");
  assert.equal(sniffProtocol(new Uint8Array([0x16]))?.name, "TLS");
  assert.equal(sniffProtocol(new Uint8Array([0x15, 0x01])), undefined);
  assert.equal(sniffProtocol(encoder.encode("HTTX")), undefined);
  assert.equal(sniffProtocol(encoder.encode("GET / HTTP/1.1")), undefined);
  assert.equal(sniffProtocol(new Uint8Array([0x02])), undefined);
  assert.equal(sniffProtocol(new Uint8Array()), undefined);
});
