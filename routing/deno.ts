/**
 * Deno adapter of the routing module: a relay's store-and-forward queue kept in SQLite
 * (Deno's built-in `node:sqlite`), so queued frames survive a restart of the relay.
 *
 * @module
 */
export { type SqliteRelayQueueOptions, SqliteRelayQueueStore } from "./sqlite_relay_queue.ts";
