/**
 * The types and defaults of portal connections: the socket seam, byte counts, how a
 * connection ended.
 *
 * @module
 */
import { SealrouteError } from "../errors.ts";
import type { Node } from "../routing/node.ts";
import type { AccessHook } from "../routing/node_options.ts";
import type { Flow } from "../routing/flow_controls.ts";
import type { DisconnectReason } from "./messages.ts";

/** The TCP side of a portal connection; {@linkcode tcpPortalSocket} wraps a Deno connection. */
export interface PortalSocket {
  /** Reads at most `buffer.length` bytes into `buffer`; `null` at end of stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`; resolves once the socket took them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Half-close: no more writes, reads go on. */
  closeWrite(): Promise<void>;
  /** Closes both directions. */
  close(): void;
}

/** Default flow-control window per direction (256 KiB). */
export const DEFAULT_PORTAL_WINDOW = 256 * 1024;
/** Default idle time after which a portal connection closes (15 minutes; 0 = never). */
export const DEFAULT_PORTAL_IDLE_TIMEOUT = 15 * 60_000;

/** Byte counts of one portal connection. */
export interface PortalStats {
  /** Bytes read from the socket and sent to the peer. */
  readonly bytesSent: number;
  /** Bytes received from the peer and written to the socket. */
  readonly bytesReceived: number;
  /** Bytes sent that the peer has not yet given credit back for (extension only). */
  readonly unacknowledged: number;
  /** The largest `unacknowledged` seen. */
  readonly peakUnacknowledged: number;
  /** Portal message bytes waiting at this worker to be written to the socket. */
  readonly buffered: number;
  /** The largest `buffered` seen. */
  readonly peakBuffered: number;
}

/** How a portal connection ended. */
export interface PortalClose {
  /** Why (`closed` for an orderly end). */
  readonly reason: DisconnectReason | "route-lost" | "timeout" | "remote";
  /** Which side ended it: this one or the peer. */
  readonly by: "local" | "peer";
}

/** Internal: what {@linkcode PortalConnection} is built from. */
export interface ConnectionInit {
  /** The node the connection's worker runs on. */
  node: Node;
  /** The TCP side. */
  socket: PortalSocket;
  /** Which half of the portal this is. */
  side: "inlet" | "outlet";
  /** For log lines. */
  label: string;
  /** The window this side grants the peer, in bytes. */
  window: number;
  /** Idle time before closing, in ms (0 = never). */
  idleTimeout: number;
  /** Extra check on every message reaching the worker (the outlet: same channel as Ping). */
  incoming?: AccessHook;
  /** Flows the worker consumes (the outlet: the Ping's). */
  consumes?: readonly Flow[];
}

/** A short, safe description of an error for a log line. */
export function errorText(error: unknown): string {
  if (error instanceof SealrouteError) return `${error.code}: ${error.message}`.slice(0, 200);
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200);
  return "unknown error";
}
