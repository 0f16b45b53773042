/**
 * Where routing and transports report drops, refusals, reconnects and closed connections.
 *
 * Each method takes a message and optional structured fields. The default is
 * {@linkcode silentLogger}; library code never writes to the console itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Node, type Logger } from "@sealroute/sealroute/routing";
 *
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: () => {},
 *   info: (m) => lines.push(m),
 *   warn: (m) => lines.push(m),
 *   error: (m) => lines.push(m),
 * };
 * await using node = new Node({ logger });
 * assert(node.logger === logger);
 * ```
 */
export interface Logger {
  /** Fine-grained events (each dropped heartbeat, each worker start/stop). */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Notable lifecycle events (connections opened and closed). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Messages dropped or refused, connections lost. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Handler failures and other bugs. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * A logger that discards everything (the default).
 *
 * @example
 * ```ts
 * import { silentLogger } from "@sealroute/sealroute/routing";
 * silentLogger.warn("ignored");
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug(): void {},
  info(): void {},
  warn(): void {},
  error(): void {},
});
