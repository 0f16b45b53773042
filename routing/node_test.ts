import assert from "node:assert/strict";
import { RouteError, TransportError } from "../errors.ts";
import { Address } from "./address.ts";
import { startEcho } from "./echo.ts";
import type { Logger } from "./logger.ts";
import { Node } from "./node.ts";
import { Route } from "./route.ts";
import { LOCAL_INFO_IDENTIFIER, RoutedMessage } from "./routed_message.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const isRouteError = (code: string) => (e: unknown) => e instanceof RouteError && e.code === code;

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(condition(), "condition not reached in time");
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return { lines, debug: () => {}, info: push("info"), warn: push("warn"), error: push("error") };
}

Deno.test("sending to an unknown local address is an immediate RouteError", async () => {
  await using node = new Node();
  await assert.rejects(node.send("nobody", bytes("x")), isRouteError("unknown-address"));
  await assert.rejects(node.send([], bytes("x")), isRouteError("empty-route"));
  await assert.rejects(node.send("1#h:1", bytes("x")), isRouteError("no-transport"));
});

Deno.test("a full mailbox refuses send immediately; deliver waits for room", async () => {
  await using node = new Node();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const seen: number[] = [];
  node.startWorker("slow", async ({ message }) => {
    await gate;
    seen.push(message.payload[0]!);
  }, { mailboxCapacity: 2 });
  await node.send("slow", new Uint8Array([0]));
  await new Promise((r) => setTimeout(r, 0)); // the handler takes message 0 and blocks
  await node.send("slow", new Uint8Array([1]));
  await node.send("slow", new Uint8Array([2]));
  await assert.rejects(node.send("slow", new Uint8Array([3])), isRouteError("mailbox-full"));
  const waiting = node.deliver(
    new RoutedMessage({ onwardRoute: "slow", payload: new Uint8Array([4]) }),
  );
  release();
  await waiting;
  await until(() => seen.length === 4);
  assert.deepEqual(seen, [0, 1, 2, 4]);
});

Deno.test("handlers run one at a time, in order", async () => {
  await using node = new Node();
  const seen: number[] = [];
  let running = 0;
  let maxRunning = 0;
  node.startWorker("w", async ({ message }) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setTimeout(r, message.payload[0]! % 3));
    seen.push(message.payload[0]!);
    running--;
  });
  for (let i = 0; i < 50; i++) await node.send("w", new Uint8Array([i]));
  await until(() => seen.length === 50);
  assert.equal(maxRunning, 1);
  assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("send sets the return route from `from`, request gets the reply", async () => {
  await using node = new Node();
  startEcho(node);
  const reply = await node.request("echo", bytes("hi"), { timeout: 1000 });
  assert.equal(text(reply.payload), "hi");
  assert.equal(reply.returnRoute.toString(), "echo");
  let got: RoutedMessage | undefined;
  node.startWorker("me", ({ message }) => void (got = message));
  await node.send("echo", bytes("yo"), { from: "me" });
  for (let i = 0; i < 10 && !got; i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(got && text(got.payload), "yo");
  assert.equal(got?.onwardRoute.toString(), "me");
});

Deno.test("request times out with RouteError timeout", async () => {
  await using node = new Node();
  node.startWorker("void", () => {});
  await assert.rejects(node.request("void", bytes("x"), { timeout: 20 }), isRouteError("timeout"));
  await node.stopWorker("void");
});

Deno.test("AbortSignal cancels a request", async () => {
  await using node = new Node();
  node.startWorker("void", () => {});
  const controller = new AbortController();
  const pending = node.request("void", bytes("x"), { signal: controller.signal, timeout: 10_000 });
  controller.abort();
  await assert.rejects(pending, isRouteError("aborted"));
  await assert.rejects(
    node.request("void", bytes("x"), { signal: AbortSignal.abort() }),
    isRouteError("aborted"),
  );
});

Deno.test("close() rejects pending requests with RouteError closed and waits for handlers", async () => {
  const node = new Node();
  let finished = false;
  node.startWorker("busy", async () => {
    await new Promise((r) => setTimeout(r, 20));
    finished = true;
  });
  await node.send("busy", bytes("x"));
  await new Promise((r) => setTimeout(r, 0));
  node.startWorker("void", () => {});
  const pending = assert.rejects(
    node.request("void", bytes("x"), { timeout: 10_000 }),
    isRouteError("closed"),
  );
  await node.close();
  await pending;
  assert.ok(finished);
  await assert.rejects(node.send("busy", bytes("x")), isRouteError("closed"));
  assert.throws(() => node.startWorker("late", () => {}), isRouteError("closed"));
});

Deno.test("incoming access control refuses local sends with RouteError refused and logs", async () => {
  const logger = recordingLogger();
  await using node = new Node({ logger });
  const seen: string[] = [];
  node.startWorker("guarded", ({ message }) => void seen.push(text(message.payload)), {
    incoming: (m) => m.localInfo[LOCAL_INFO_IDENTIFIER] === "Ialice",
  });
  await assert.rejects(node.send("guarded", bytes("anon")), isRouteError("refused"));
  await node.send("guarded", bytes("alice"), { localInfo: { [LOCAL_INFO_IDENTIFIER]: "Ialice" } });
  await until(() => seen.length === 1);
  assert.deepEqual(seen, ["alice"]);
  assert.ok(logger.lines.some((l) => l.startsWith("warn: incoming access control refused")));
});

Deno.test("asynchronous incoming hooks keep order and refuse with RouteError", async () => {
  await using node = new Node();
  const seen: number[] = [];
  node.startWorker("w", ({ message }) => void seen.push(message.payload[0]!), {
    incoming: async (m) => {
      await new Promise((r) => setTimeout(r, m.payload[0] === 0 ? 10 : 0));
      return m.payload[0] !== 2;
    },
  });
  const results = await Promise.allSettled(
    [0, 1, 2, 3].map((i) => node.send("w", new Uint8Array([i]))),
  );
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  await until(() => seen.length === 3);
  assert.deepEqual(seen, [0, 1, 3]);
});

Deno.test("outgoing access control refuses what a worker sends", async () => {
  await using node = new Node();
  startEcho(node);
  node.startWorker("quiet", () => {}, { outgoing: (m) => Promise.resolve(m.payload.length < 3) });
  await node.send("echo", bytes("ok"), { from: "quiet" });
  await assert.rejects(
    node.send("echo", bytes("too long"), { from: "quiet" }),
    isRouteError("refused"),
  );
});

Deno.test("onWorkerStopped reports the reason; request fails when its first hop stops with one", async () => {
  await using node = new Node();
  node.startWorker("link", () => {});
  const pending = node.request(["link", "far"], bytes("x"), { timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 0));
  await node.stopWorker("link", new TransportError("connection-closed", "gone"));
  await assert.rejects(
    pending,
    (e) => e instanceof TransportError && e.code === "connection-closed",
  );
  let called = false;
  node.onWorkerStopped("never-existed", () => called = true);
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(called);
});

Deno.test("transports resolve non-local first hops to a local worker", async () => {
  await using node = new Node();
  const seen: string[] = [];
  node.startWorker("sender", ({ message }) => void seen.push(message.onwardRoute.toString()));
  node.registerTransport(7, { resolve: () => Promise.resolve(Address.local("sender")) });
  await node.send(Route.parse("7#peer => api"), bytes("x"));
  await until(() => seen.length === 1);
  assert.deepEqual(seen, ["sender => api"]);
  assert.throws(
    () => node.registerTransport(7, { resolve: () => Address.local("x") }),
    isRouteError("transport-in-use"),
  );
});

Deno.test("a failing handler is logged and the worker keeps going", async () => {
  const logger = recordingLogger();
  await using node = new Node({ logger });
  let n = 0;
  node.startWorker("flaky", () => {
    if (n++ === 0) throw new Error("boom");
  });
  await node.send("flaky", bytes("1"));
  await node.send("flaky", bytes("2"));
  await until(() => n === 2);
  assert.equal(n, 2);
  assert.ok(logger.lines.includes("error: worker handler failed"));
});

Deno.test("startWorker rejects duplicates and non-local addresses", async () => {
  await using node = new Node();
  node.startWorker("a", () => {});
  assert.throws(() => node.startWorker("a", () => {}), isRouteError("address-in-use"));
  assert.throws(() => node.startWorker("1#h:1", () => {}), TypeError);
});

Deno.test("mailboxes are bounded in bytes as well as count: senders are refused or wait", async () => {
  await using node = new Node({ mailboxBytes: 64 * 1024 });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let handled = 0;
  node.startWorker("slow", async () => {
    await gate;
    handled++;
  });
  const big = new Uint8Array(40 * 1024);
  await node.send("slow", big); // taken at once by the handler, which waits
  await new Promise((r) => setTimeout(r, 5));
  await node.send("slow", big); // queued: 40 KiB of 64 KiB
  await assert.rejects(
    node.send("slow", big), // would make 80 KiB
    (e) => e instanceof RouteError && e.code === "mailbox-full",
  );
  await node.send("slow", new Uint8Array(1024)); // small ones still fit
  const waiting = node.deliver(new RoutedMessage({ onwardRoute: "slow", payload: big }));
  let delivered = false;
  void waiting.then(() => delivered = true);
  await new Promise((r) => setTimeout(r, 10));
  assert(!delivered, "deliver waits for room");
  release();
  await waiting;
  await node.stopWorker("slow");
  assert(handled >= 3);
});

Deno.test("one message larger than the byte bound still fits an empty mailbox", async () => {
  await using node = new Node({ mailboxBytes: 1024 });
  let got = 0;
  node.startWorker("sink", ({ message }) => void (got = message.payload.length));
  await node.send("sink", new Uint8Array(4096));
  await node.stopWorker("sink");
  assert.equal(got, 4096);
  assert.throws(() => new Node({ mailboxBytes: 0 }), RangeError);
});

Deno.test("tryDeliver queues at once only where deliver would not wait or check", async () => {
  await using node = new Node();
  const got: string[] = [];
  node.startWorker("sink", (ctx) => void got.push(text(ctx.message.payload)), {
    mailboxCapacity: 2,
  });
  node.startWorker("guarded", () => {}, { incoming: () => true });
  node.startWorker("chatty", () => {}, { outgoing: () => true });
  const to = (route: string, payload = "x") =>
    new RoutedMessage({ onwardRoute: route, payload: bytes(payload) });
  assert.equal(node.tryDeliver(to("sink", "a")), true);
  assert.equal(node.tryDeliver(to("sink", "b")), true);
  assert.equal(node.tryDeliver(to("sink", "c")), false, "a full mailbox: deliver waits");
  assert.equal(node.tryDeliver(to("nobody")), false, "unknown: deliver fails with its error");
  assert.equal(node.tryDeliver(to("guarded")), false, "an incoming hook is left to deliver");
  assert.equal(node.tryDeliver(to("sink"), { from: "chatty" }), false, "so is an outgoing one");
  assert.equal(node.tryDeliver(to("1#127.0.0.1:1")), false, "a remote hop is never cut through");
  const flow = node.flowControls.createFlow();
  assert.equal(node.tryDeliver(to("sink"), { flow }), false, "sink does not consume the flow");
  await node.drained("sink");
  assert.deepEqual(got, ["a", "b"]);
  // Behind deliver's waiters, tryDeliver does not overtake.
  node.startWorker("slow", () => new Promise((r) => setTimeout(r, 5)), { mailboxCapacity: 1 });
  assert.equal(node.tryDeliver(to("slow")), true);
  const waiting = node.deliver(to("slow"));
  assert.equal(node.tryDeliver(to("slow")), false);
  await waiting;
  await node.close();
  assert.equal(node.tryDeliver(to("sink")), false, "a closed node takes nothing");
});
