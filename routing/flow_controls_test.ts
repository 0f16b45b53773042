import assert from "node:assert/strict";
import { RouteError } from "../errors.ts";
import { Address } from "./address.ts";
import { Node } from "./node.ts";
import { RoutedMessage } from "./routed_message.ts";

Deno.test("a message on a flow reaches only the consumers of that flow or of its spawner", async () => {
  await using node = new Node();
  const listener = node.flowControls.createFlow({ label: "listener" });
  const connection = node.flowControls.createFlow({ spawner: listener });
  const other = node.flowControls.createFlow();
  const seen: string[] = [];
  node.startWorker("direct", () => void seen.push("direct"), { consumes: [connection] });
  node.startWorker("spawner", () => void seen.push("spawner"), { consumes: [listener] });
  node.startWorker("elsewhere", () => void seen.push("elsewhere"), { consumes: [other] });
  node.startWorker("private", () => void seen.push("private"));
  for (const to of ["direct", "spawner"]) {
    await node.deliver(new RoutedMessage({ onwardRoute: to }), { flow: connection });
  }
  for (const to of ["elsewhere", "private"]) {
    await assert.rejects(
      node.deliver(new RoutedMessage({ onwardRoute: to }), { flow: connection }),
      (e) => e instanceof RouteError && e.code === "flow-refused",
    );
  }
  // Local messages reach everyone.
  await node.send("private", new Uint8Array());
  await node.stopWorker("private");
  assert.deepEqual(seen.sort(), ["direct", "private", "spawner"]);
});

Deno.test("a flow may not make the node dial out unless it allows remote dials", async () => {
  await using node = new Node();
  let dialled = 0;
  node.startWorker("gateway", () => {});
  node.registerTransport(9, {
    resolve: () => {
      dialled++;
      return Address.local("gateway");
    },
  });
  const closed = node.flowControls.createFlow();
  await assert.rejects(
    node.deliver(new RoutedMessage({ onwardRoute: ["9#elsewhere", "x"] }), { flow: closed }),
    (e) => e instanceof RouteError && e.code === "flow-refused",
  );
  assert.equal(dialled, 0, "refused before the transport was asked to connect");
  const open = node.flowControls.createFlow({ allowRemoteDial: true });
  await node.deliver(new RoutedMessage({ onwardRoute: ["9#elsewhere", "x"] }), { flow: open });
  assert.equal(dialled, 1);
});

Deno.test("a request through a producer address makes its reply worker a consumer, and only it", async () => {
  await using node = new Node();
  const flow = node.flowControls.createFlow();
  // "link" stands for a connection: what it gets is answered on its flow.
  node.startWorker("link", async (ctx) => {
    const reply = new RoutedMessage({
      onwardRoute: ctx.message.returnRoute,
      payload: ctx.message.payload,
    });
    await node.deliver(reply, { flow });
  });
  node.flowControls.addProducer("link", flow);
  const reply = await node.request("link", new Uint8Array([7]), { timeout: 1000 });
  assert.equal(reply.payload[0], 7);
  // A worker that merely sends through the link does not become a consumer.
  node.startWorker("sender", () => {});
  await node.send("link", new Uint8Array([1]), { from: "sender" });
  assert(!node.flowControls.isConsumer("sender", flow));
  node.startWorker("asker", () => {});
  await node.send("link", new Uint8Array([1]), { from: "asker", receiveReplies: true });
  assert(node.flowControls.isConsumer("asker", flow));
});

Deno.test("a stopped worker's flow entries are forgotten", async () => {
  await using node = new Node();
  const flow = node.flowControls.createFlow();
  node.startWorker("w", () => {}, { consumes: [flow] });
  node.flowControls.addProducer("w", flow);
  await node.stopWorker("w");
  assert(!node.flowControls.isConsumer("w", flow));
  assert.equal(node.flowControls.producerFlow("w"), undefined);
  assert.deepEqual(node.flowControls.consumedFlows("w"), []);
});

Deno.test("a worker sees the flow its message arrived on and can pass it on", async () => {
  await using node = new Node();
  const flow = node.flowControls.createFlow();
  let seen: unknown = "unset";
  node.startWorker(
    "relay",
    (ctx) => node.deliver(ctx.message.with({ onwardRoute: ["inner"] }), { flow: ctx.flow }),
    {
      consumes: [flow],
    },
  );
  node.startWorker("inner", (ctx) => void (seen = ctx.flow));
  node.startWorker("open", (ctx) => void (seen = ctx.flow), { consumes: [flow] });
  await node.deliver(new RoutedMessage({ onwardRoute: "relay" }), { flow });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen, "unset", "inner does not consume the flow: passing it on keeps it out");
  await node.deliver(new RoutedMessage({ onwardRoute: "open" }), { flow });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen, flow);
  await node.send("inner", new Uint8Array());
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen, undefined, "a local message has no flow");
});
