// Reuses one connection per remote address for a transport type (OCKAM_WIRE §1: the
// transport router replaces `tt#host:port` with the connection's sender worker address).
import type { Address, TransportHandler } from "../routing/mod.ts";
import type { Connection } from "./connection.ts";

export class ConnectionPool implements TransportHandler {
  readonly #connect: (peer: string) => Promise<Connection>;
  readonly #live = new Map<string, Connection>();
  readonly #connecting = new Map<string, Promise<Connection>>();
  readonly #all = new Set<Connection>();

  constructor(connect: (peer: string) => Promise<Connection>) {
    this.#connect = connect;
  }

  resolve(address: Address): Address | Promise<Address> {
    const peer = address.valueText;
    const live = this.#live.get(peer);
    if (live) return live.address;
    return this.get(peer).then((c) => c.address);
  }

  get(peer: string): Promise<Connection> {
    const live = this.#live.get(peer);
    if (live) return Promise.resolve(live);
    let pending = this.#connecting.get(peer);
    if (!pending) {
      pending = this.#connect(peer).then((c) => {
        this.add(peer, c);
        return c;
      }).finally(() => this.#connecting.delete(peer));
      this.#connecting.set(peer, pending);
    }
    return pending;
  }

  /** Tracks a connection (closed with the pool) and offers it for reuse if none is live. */
  add(peer: string, connection: Connection): void {
    this.#all.add(connection);
    if (!this.#live.has(peer)) this.#live.set(peer, connection);
    void connection.closed.then(() => {
      this.#all.delete(connection);
      if (this.#live.get(peer) === connection) this.#live.delete(peer);
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#connecting.values()]);
    await Promise.all([...this.#all].map((c) => c.close()));
  }
}
