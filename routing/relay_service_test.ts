import assert from "node:assert/strict";
import { RouteError } from "../errors.ts";
import { startEcho } from "./echo.ts";
import { Node } from "./node.ts";
import { createRelay } from "./create_relay.ts";
import { startRelayService } from "./relay_service.ts";
import { LOCAL_INFO_IDENTIFIER } from "./routed_message.ts";
import { encodeBareString } from "./bare.ts";
import type { Address } from "./address.ts";

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

// --- registration races -------------------------------------------------------------------

/**
 * A worker standing in for a transport connection: it passes messages on with itself popped
 * off the onward route and put in front of the return route, as a connection's receiver
 * does. `carried` records the probes it carried towards the client.
 */
function startLink(node: Node, name: string, carried: string[]): Address {
  return node.startWorker(name, async (ctx) => {
    const onward = ctx.message.onwardRoute.popFront();
    if (onward.next?.toString() === "sink") carried.push(name);
    await ctx.forward(ctx.message.with({
      onwardRoute: onward,
      returnRoute: ctx.message.returnRoute.prepend(ctx.address),
    }));
  });
}

interface Claim {
  link: string;
  identity: string | undefined;
  outcome: "held" | "refused" | "other";
}

async function race(
  node: Node,
  name: string,
  claimants: { link: string; identity: string | undefined }[],
): Promise<Claim[]> {
  return await Promise.all(claimants.map(async ({ link, identity }, i) => {
    const service = i % 2 === 0 ? "forwarding_service" : "static_forwarding_service";
    try {
      await createRelay(node, [link], name, {
        service,
        timeout: 2000,
        ...(identity ? { localInfo: { [LOCAL_INFO_IDENTIFIER]: identity } } : {}),
      });
      return { link, identity, outcome: "held" as const };
    } catch (error) {
      const refused = error instanceof RouteError && error.code === "relay-refused";
      return { link, identity, outcome: refused ? "refused" as const : "other" as const };
    }
  }));
}

/** Which link a probe sent to the relay goes through (undefined: it went nowhere). */
async function probe(node: Node, relay: string, carried: string[]): Promise<string[]> {
  carried.length = 0;
  let got = 0;
  const sink = node.startWorker("sink", () => {
    got++;
  });
  try {
    await node.send([relay, "sink"], new Uint8Array([1])).catch(() => {});
    for (let i = 0; i < 50 && got === 0; i++) await new Promise((r) => setTimeout(r, 0));
    return [...carried];
  } finally {
    await node.stopWorker(sink);
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

Deno.test("relay races: while a name is held, only its identity takes it over, never leaving a stale relay", async () => {
  const ROUNDS = 40;
  await using node = new Node();
  await using service = startRelayService(node);
  const carried: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const name = `held-${round}`;
    const key = `forward_to_${name}`;
    const first = startLink(node, `r${round}-first`, carried);
    await createRelay(node, [first.toString()], name, id("Iowner"));
    const claimants = shuffle(Array.from({ length: 24 }, (_, i) => ({
      link: `r${round}-c${i}`,
      identity: i % 3 === 0 ? "Iowner" : i % 3 === 1 ? `Iother${i}` : undefined,
    })));
    for (const c of claimants) startLink(node, c.link, carried);
    const claims = await race(node, name, claimants);
    for (const c of claims) {
      assert.equal(
        c.outcome,
        c.identity === "Iowner" ? "held" : "refused",
        `round ${round}: ${c.link}`,
      );
    }
    assert.equal(service.relays().filter((r) => r === key).length, 1);
    assert.equal(node.workerAddresses().filter((a) => a.toString() === key).length, 1);
    const via = await probe(node, key, carried);
    assert.equal(via.length, 1, `round ${round}: one holder carries the relay's traffic`);
    const holder = via[0]!;
    assert(claims.some((c) => c.link === holder), `round ${round}: the holder is a new claimant`);
    // Every other link going away leaves the holder's relay alone ...
    for (const link of [first.toString(), ...claimants.map((c) => c.link)]) {
      if (link !== holder) await node.stopWorker(link);
    }
    await settle();
    assert.deepEqual(await probe(node, key, carried), [holder]);
    // ... and the holder's going away removes it: no stale relay is left.
    await node.stopWorker(holder);
    await settle();
    assert(!service.relays().includes(key), `round ${round}: relay removed with its holder`);
    assert(!node.hasWorker(key));
  }
});

Deno.test("relay races: on a free name one claimant wins; only its identity joins it", async () => {
  const ROUNDS = 40;
  await using node = new Node();
  await using service = startRelayService(node);
  const carried: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const name = `free-${round}`;
    const key = `forward_to_${name}`;
    const claimants = shuffle(Array.from({ length: 24 }, (_, i) => ({
      link: `f${round}-c${i}`,
      identity: i % 4 === 0 ? "Ia" : i % 4 === 1 ? "Ib" : i % 4 === 2 ? `Iother${i}` : undefined,
    })));
    for (const c of claimants) startLink(node, c.link, carried);
    const claims = await race(node, name, claimants);
    assert(claims.every((c) => c.outcome !== "other"), `round ${round}: only held or refused`);
    const winners = claims.filter((c) => c.outcome === "held");
    assert(winners.length >= 1, `round ${round}: someone holds the name`);
    const identity = winners[0]!.identity;
    if (identity === undefined) {
      assert.equal(winners.length, 1, `round ${round}: an anonymous holder is never taken over`);
    } else {
      assert.deepEqual(
        winners.map((c) => c.link).sort(),
        claims.filter((c) => c.identity === identity).map((c) => c.link).sort(),
        `round ${round}: exactly the winner's identity holds it`,
      );
    }
    const via = await probe(node, key, carried);
    assert.equal(via.length, 1);
    assert(winners.some((c) => c.link === via[0]));
    for (const c of claimants) await node.stopWorker(c.link);
    await settle();
    assert(!service.relays().includes(key));
    assert(!node.hasWorker(key));
  }
});

Deno.test("relay races: concurrent takeovers by the same identity all succeed and leave one relay", async () => {
  const ROUNDS = 40;
  await using node = new Node();
  await using service = startRelayService(node);
  const carried: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const name = `same-${round}`;
    const key = `forward_to_${name}`;
    const first = startLink(node, `s${round}-first`, carried).toString();
    await createRelay(node, [first], name, id("Iowner"));
    const claimants = Array.from({ length: 24 }, (_, i) => ({
      link: `s${round}-c${i}`,
      identity: "Iowner",
    }));
    for (const c of claimants) startLink(node, c.link, carried);
    const claims = await race(node, name, claimants);
    assert(claims.every((c) => c.outcome === "held"), `round ${round}: every takeover succeeds`);
    assert.deepEqual(service.relays().filter((r) => r === key), [key]);
    const via = await probe(node, key, carried);
    assert.equal(via.length, 1);
    const holder = via[0]!;
    for (const link of [first, ...claimants.map((c) => c.link)]) {
      if (link !== holder) await node.stopWorker(link);
    }
    await settle();
    assert.deepEqual(await probe(node, key, carried), [holder]);
    await node.stopWorker(holder);
    await settle();
    assert(!service.relays().includes(key) && !node.hasWorker(key));
  }
  // Every share was given back: the identity may hold its full 64 again (32 per connection).
  startLink(node, "fresh1", carried);
  startLink(node, "fresh2", carried);
  for (let i = 0; i < 64; i++) {
    await createRelay(node, [i < 32 ? "fresh1" : "fresh2"], `f${i}`, id("Iowner"));
  }
  await assert.rejects(createRelay(node, ["fresh2"], "f64", id("Iowner")), RouteError);
});

// --- bounds -------------------------------------------------------------------------------

const refusedFor = (code: string) => (e: unknown) => e instanceof RouteError && e.code === code;

Deno.test("relay bounds: one connection holds at most maxRelaysPerConnection names, freed as relays go", async () => {
  await using node = new Node();
  await using service = startRelayService(node, { maxRelaysPerConnection: 3 });
  const carried: string[] = [];
  startLink(node, "conn-a", carried);
  startLink(node, "conn-b", carried);
  for (const name of ["a1", "a2", "a3"]) {
    await createRelay(node, ["conn-a"], name, { timeout: 1000 });
  }
  await assert.rejects(
    createRelay(node, ["conn-a"], "a4", { timeout: 1000 }),
    refusedFor("relay-limit"),
  );
  await assert.rejects(
    createRelay(node, ["conn-a"], undefined, { timeout: 1000 }),
    refusedFor("relay-limit"),
  );
  // Another connection is not affected.
  await createRelay(node, ["conn-b"], "b1", { timeout: 1000 });
  // A relay going away gives its share back.
  await node.stopWorker("forward_to_a2");
  await createRelay(node, ["conn-a"], "a4", { timeout: 1000 });
  assert.deepEqual(service.relays().sort(), [
    "forward_to_a1",
    "forward_to_a3",
    "forward_to_a4",
    "forward_to_b1",
  ]);
  // The connection going away removes all its relays and frees its count.
  await node.stopWorker("conn-a");
  await settle();
  assert.deepEqual(service.relays(), ["forward_to_b1"]);
  startLink(node, "conn-a", carried);
  for (const name of ["c1", "c2", "c3"]) {
    await createRelay(node, ["conn-a"], name, { timeout: 1000 });
  }
});

Deno.test("relay bounds: one identity holds at most maxRelaysPerIdentity names over all its connections", async () => {
  await using node = new Node();
  await using _service = startRelayService(node, { maxRelaysPerIdentity: 2 });
  const carried: string[] = [];
  for (const link of ["l1", "l2", "l3"]) startLink(node, link, carried);
  await createRelay(node, ["l1"], "x1", id("Ialice"));
  await createRelay(node, ["l2"], "x2", id("Ialice"));
  await assert.rejects(createRelay(node, ["l3"], "x3", id("Ialice")), refusedFor("relay-limit"));
  // A takeover moves a name, it does not add one.
  await createRelay(node, ["l3"], "x1", id("Ialice"));
  await createRelay(node, ["l3"], "x3", id("Ibob"));
  await node.stopWorker("forward_to_x2");
  await createRelay(node, ["l1"], "x4", id("Ialice"));
});

Deno.test("relay bounds: the service holds at most maxRelays names in all", async () => {
  await using node = new Node();
  await using service = startRelayService(node, { maxRelays: 5 });
  const carried: string[] = [];
  for (let i = 0; i < 6; i++) {
    startLink(node, `l${i}`, carried);
    const registering = createRelay(node, [`l${i}`], `n${i}`, { timeout: 1000 });
    if (i < 5) await registering;
    else await assert.rejects(registering, refusedFor("relay-limit"));
  }
  assert.equal(service.relays().length, 5);
  await node.stopWorker("l0");
  await settle();
  await createRelay(node, ["l5"], "n5", { timeout: 1000 });
  assert.equal(service.relays().length, 5);
});

Deno.test("relay bounds: names longer than maxNameBytes (UTF-8) are refused with a short message", async () => {
  await using node = new Node();
  const warnings: Record<string, unknown>[] = [];
  const logger = {
    debug() {},
    info() {},
    warn(_message: string, fields?: Record<string, unknown>) {
      warnings.push(fields ?? {});
    },
    error() {},
  };
  const logged = new Node({ logger });
  await using _service = startRelayService(node, { maxNameBytes: 4 });
  await using _logged = startRelayService(logged);
  await createRelay(node, [], "éé", { timeout: 1000 }); // 4 bytes
  await assert.rejects(createRelay(node, [], "ééé", { timeout: 1000 }), refusedFor("relay-limit"));
  await assert.rejects(
    createRelay(node, [], "abcde", { timeout: 1000 }),
    refusedFor("relay-limit"),
  );
  // Random names are the service's own, whatever the bound.
  await createRelay(node, [], undefined, { timeout: 1000 });
  // Default bound: 128 bytes. A 1 MiB name is refused before it is decoded, and neither the
  // error nor the log quote it whole.
  await createRelay(logged, [], "n".repeat(128), { timeout: 1000 });
  const error = await createRelay(logged, [], "n".repeat(1 << 20), { timeout: 1000 }).catch((e) =>
    e
  );
  assert(refusedFor("relay-limit")(error));
  assert(error.message.length < 300, `message of ${error.message.length} chars`);
  assert(warnings.length > 0 && JSON.stringify(warnings).length < 2000);
  await logged.close();
});

Deno.test("relay bounds: a forward route longer than maxForwardRouteLength is refused", async () => {
  await using node = new Node();
  await using _service = startRelayService(node, { maxForwardRouteLength: 2 });
  const carried: string[] = [];
  for (const link of ["h1", "h2", "h3"]) startLink(node, link, carried);
  // Through two hops the forward route is [h2, h1]: allowed; through three it is refused.
  await createRelay(node, ["h1", "h2"], "two", { timeout: 1000 });
  await assert.rejects(
    createRelay(node, ["h1", "h2", "h3"], "three", { timeout: 1000 }),
    refusedFor("relay-limit"),
  );
});

Deno.test("relay bounds: a takeover onto a connection at its limit is refused and leaves the relay as it was", async () => {
  await using node = new Node();
  await using service = startRelayService(node, { maxRelaysPerConnection: 1 });
  const carried: string[] = [];
  startLink(node, "old", carried);
  startLink(node, "full", carried);
  await createRelay(node, ["old"], "moving", id("Ialice"));
  await createRelay(node, ["full"], "other", id("Ialice"));
  await assert.rejects(
    createRelay(node, ["full"], "moving", id("Ialice")),
    refusedFor("relay-limit"),
  );
  assert.deepEqual(await probe(node, "forward_to_moving", carried), ["old"]);
  assert.deepEqual(service.relays().sort(), ["forward_to_moving", "forward_to_other"]);
});

Deno.test("relay bounds: every bound must be a positive integer", () => {
  const node = new Node();
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    for (
      const key of [
        "maxRelays",
        "maxRelaysPerConnection",
        "maxRelaysPerIdentity",
        "maxNameBytes",
        "maxForwardRouteLength",
      ]
    ) {
      assert.throws(() => startRelayService(node, { [key]: bad }), RangeError, `${key}=${bad}`);
    }
  }
  assert.equal(node.workerAddresses().length, 0);
});

// --- forwarding ---------------------------------------------------------------------------

Deno.test("a relay puts its forward route in front of the rest of the onward route, return route untouched", async () => {
  await using node = new Node();
  await using _service = startRelayService(node);
  const carried: string[] = [];
  startLink(node, "outer", carried);
  startLink(node, "inner", carried);
  await createRelay(node, ["outer", "inner"], "fwd", { timeout: 1000 });
  const seen: string[] = [];
  node.startWorker("dest", (ctx) => {
    seen.push(`${ctx.message.onwardRoute} | ${ctx.message.returnRoute}`);
  });
  await node.send(["forward_to_fwd", "dest"], new Uint8Array([7]), { returnRoute: ["back"] });
  await settle();
  // Forward route [inner, outer]; each link puts itself in front of the return route.
  assert.deepEqual(seen, ["dest | outer => inner => back"]);
});

Deno.test("a takeover over another connection tells the previous holder it was replaced; a renewal over the same one does not", async () => {
  await using node = new Node();
  await using _service = startRelayService(node);
  startLink(node, "link-a", []);
  startLink(node, "link-b", []);
  const told: string[] = [];
  const first = await createRelay(node, ["link-a"], "pump", {
    ...id("Iowner"),
    onReplaced: () => told.push("first"),
  });
  // The same connection again (a renewal): no one is told anything.
  const renewed = await createRelay(node, ["link-a"], "pump", {
    ...id("Iowner"),
    onReplaced: (e) => told.push(`renewed ${e.code}`),
  });
  await settle();
  assert.deepEqual(told, []);
  // Another connection (a second process with the same identity): the holder hears of it.
  const second = await createRelay(node, ["link-b"], "pump", id("Iowner"));
  await settle();
  assert.deepEqual(told, ["renewed replaced"]);
  await first.close();
  await renewed.close();
  await second.close();
});

Deno.test("registrations() lists each relay's name and holder, and forgets removed ones", async () => {
  await using node = new Node();
  await using service = startRelayService(node);
  assert.deepEqual(service.registrations(), []);
  const before = Date.now();
  await using _alice = await createRelay(node, [], "sensor", id("Ialice"));
  await using _anonymous = await createRelay(node, [], "open", { timeout: 1000 });
  const listed = service.registrations().sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(listed.map(({ since: _, ...rest }) => rest), [
    { relay: "forward_to_open", name: "open", identity: undefined, online: true, queued: 0 },
    { relay: "forward_to_sensor", name: "sensor", identity: "Ialice", online: true, queued: 0 },
  ]);
  for (const r of listed) assert(r.since >= before && r.since <= Date.now());
  // A refused claim changes nothing.
  await assert.rejects(createRelay(node, [], "sensor", id("Imallory")));
  assert.equal(service.registrations().find((r) => r.name === "sensor")?.identity, "Ialice");
  await node.stopWorker("forward_to_open");
  assert.deepEqual(service.registrations().map((r) => r.name), ["sensor"]);
});
