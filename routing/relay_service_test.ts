import assert from "node:assert/strict";
import { RouteError } from "../errors.ts";
import { startEcho } from "./echo.ts";
import { Node } from "./node.ts";
import { createRelay, startRelayService } from "./relay_service.ts";
import { LOCAL_INFO_IDENTIFIER } from "./routed_message.ts";
import { encodeBareString } from "./bare.ts";

const id = (identifier: string) => ({
  localInfo: { [LOCAL_INFO_IDENTIFIER]: identifier },
  timeout: 1000,
});

Deno.test("relay registers with a random name and forwards to the registering node", async () => {
  await using node = new Node();
  await using service = startRelayService(node);
  startEcho(node);
  await using relay = await createRelay(node, [], undefined, { timeout: 1000 });
  assert.match(relay.address.toString(), /^forward_to_[0-9a-f]{32}$/);
  assert.deepEqual(service.relays(), [relay.address.toString()]);
  const reply = await node.request(relay.route.append("echo"), new Uint8Array([3]), {
    timeout: 1000,
  });
  assert.equal(reply.payload[0], 3);
});

Deno.test("static relay: same identity may take the name over, another identity is refused", async () => {
  await using node = new Node();
  await using service = startRelayService(node);
  const first = await createRelay(node, [], "default", id("Ialice"));
  assert.equal(first.address.toString(), "forward_to_default");
  await assert.rejects(
    createRelay(node, [], "default", id("Imallory")),
    (e) => e instanceof RouteError && e.code === "relay-refused",
  );
  await assert.rejects(
    createRelay(node, [], "default", { timeout: 1000 }),
    (e) => e instanceof RouteError && e.code === "relay-refused",
  );
  const second = await createRelay(node, [], "default", id("Ialice"));
  assert.equal(second.address.toString(), "forward_to_default");
  assert.deepEqual(service.relays(), ["forward_to_default"]);
  await first.close();
  await second.close();
});

Deno.test("a relay goes away when the first hop of its forward route stops", async () => {
  await using node = new Node();
  await using service = startRelayService(node);
  const relay = await createRelay(node, [], "gone", id("Ialice"));
  await relay.close(); // the relay's forward route led to this client worker
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(service.relays(), []);
  // the name is free again, for anyone
  await using other = await createRelay(node, [], "gone", id("Ibob"));
  assert.equal(other.address.toString(), "forward_to_gone");
});

Deno.test("the relay service answers on its static alias and drops malformed requests", async () => {
  await using node = new Node();
  await using _service = startRelayService(node);
  await using relay = await createRelay(node, [], "s", {
    service: "static_forwarding_service",
    timeout: 1000,
  });
  assert.equal(relay.address.toString(), "forward_to_s");
  await node.send("forwarding_service", new Uint8Array([0xff]));
  await node.send("forwarding_service", encodeBareString("x")); // no return route: dropped
});
