// fast-check arbitraries shared by codec tests (no tests of its own; named _test.ts so publishing excludes it).
import fc from "fast-check";
import { Address } from "./address.ts";
import { Route } from "./route.ts";
import { RoutedMessage } from "./routed_message.ts";

export const address: fc.Arbitrary<Address> = fc.tuple(
  fc.integer({ min: 0, max: 255 }),
  fc.uint8Array({ maxLength: 300 }),
)
  .map(([tt, value]) => new Address(tt, value));

export const route: fc.Arbitrary<Route> = fc.array(address, { maxLength: 6 }).map((a) =>
  new Route(a)
);

export const message: fc.Arbitrary<RoutedMessage> = fc.record({
  onwardRoute: route,
  returnRoute: route,
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 100 }),
    fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }),
  ),
}).map((init) => new RoutedMessage(init));

export function sameMessage(a: RoutedMessage, b: RoutedMessage): boolean {
  return a.onwardRoute.equals(b.onwardRoute) && a.returnRoute.equals(b.returnRoute) &&
    a.payload.length === b.payload.length && a.payload.every((x, i) => x === b.payload[i]);
}
