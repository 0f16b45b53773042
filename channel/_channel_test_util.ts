// Fixtures for secure-channel tests: identities, an authority, linked nodes, and taps
// that sit on a route to watch, drop, repeat or reorder what passes.
import { Vault } from "../vault/mod.ts";
import { createIdentity, issueCredential, type LocalIdentity } from "../identity/mod.ts";
import type { AttributeInput } from "../identity/mod.ts";
import { Node } from "../routing/node.ts";
import type { RoutedMessage } from "../routing/routed_message.ts";
import type { WorkerContext } from "../routing/node.ts";
import { attachDuplex } from "../transport/connection.ts";
import { memoryDuplexPair } from "../transport/duplex.ts";
import type { Route } from "../routing/route.ts";
import type { Flow } from "../routing/flow_controls.ts";

export async function identity(): Promise<LocalIdentity> {
  return await createIdentity(new Vault());
}

export async function credentialed(
  authority: LocalIdentity,
  attributes: AttributeInput,
  options: { ttl?: number; clock?: () => number } = {},
): Promise<LocalIdentity> {
  const me = await identity();
  await me.addCredential(
    await issueCredential({ issuer: authority, subject: me.identity, attributes, ...options }),
  );
  return me;
}

/**
 * Two nodes joined by an in-memory duplex; `route` leads from a to b, and `flow` is the
 * flow messages from a arrive on at b (a listener on b must consume it).
 */
export function linkedNodes(): Promise<
  { a: Node; b: Node; route: Route; flow: Flow; [Symbol.asyncDispose](): Promise<void> }
> {
  const a = new Node();
  const b = new Node();
  const [da, db] = memoryDuplexPair();
  const ca = attachDuplex(a, da);
  const cb = attachDuplex(b, db);
  return Promise.resolve({
    a,
    b,
    route: ca.route,
    flow: cb.flow,
    async [Symbol.asyncDispose]() {
      await ca.close();
      await cb.close();
      await a.close();
      await b.close();
    },
  });
}

/**
 * A worker that passes messages on (popping itself from the onward route and joining the
 * return route, as Ockam's `step_forward`), after `edit` has seen each: it returns the
 * messages to pass on now (none to drop, two to repeat).
 */
export function startTap(
  node: Node,
  address: string,
  edit: (message: RoutedMessage) => RoutedMessage[] = (m) => [m],
  consumes: readonly Flow[] = [],
): void {
  node.startWorker(address, async (ctx: WorkerContext) => {
    const m = ctx.message;
    const stepped = m.with({
      onwardRoute: m.onwardRoute.popFront(),
      returnRoute: m.returnRoute.prepend(address),
    });
    for (const out of edit(stepped)) await node.deliver(out);
  }, { consumes });
}

export function waitFor(condition: () => boolean, timeout = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (condition()) return resolve();
      if (Date.now() - start > timeout) return reject(new Error("condition not met in time"));
      setTimeout(poll, 2);
    };
    poll();
  });
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const untext = (b: Uint8Array): string => new TextDecoder().decode(b);
