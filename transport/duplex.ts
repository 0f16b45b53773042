/**
 * A bidirectional byte stream: the one seam between transports and the outside world
 * (a TCP connection, workerd `connect()`, Node `Duplex.toWeb`, an in-memory pair).
 */
export interface Duplex {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /** Closes both directions, even while the streams are locked by readers or writers. */
  close(): Promise<void>;
}

/**
 * Two connected in-memory duplexes: what one writes, the other reads. Closing either
 * ends the other's readable (after the data already written) and fails its writes, like
 * a TCP close.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryDuplexPair } from "@sealroute/sealroute/transport";
 *
 * const [a, b] = memoryDuplexPair();
 * const writer = a.writable.getWriter();
 * void writer.write(new Uint8Array([1, 2, 3]));
 * const reader = b.readable.getReader();
 * const { value } = await reader.read();
 * assert(value?.length === 3);
 * reader.releaseLock();
 * writer.releaseLock();
 * await a.close();
 * await b.close();
 * ```
 */
export function memoryDuplexPair(): [Duplex, Duplex] {
  const ab = pipe();
  const ba = pipe();
  const close = (): Promise<void> => {
    ab.terminate();
    ba.terminate();
    return Promise.resolve();
  };
  return [
    { readable: ba.stream.readable, writable: ab.stream.writable, close },
    { readable: ab.stream.readable, writable: ba.stream.writable, close },
  ];
}

function pipe(): { stream: TransformStream<Uint8Array, Uint8Array>; terminate: () => void } {
  let controller: TransformStreamDefaultController<Uint8Array> | undefined;
  let terminated = false;
  const stream = new TransformStream<Uint8Array, Uint8Array>(
    {
      start(c) {
        controller = c;
      },
    },
    { highWaterMark: 4 },
    { highWaterMark: 4 },
  );
  return {
    stream,
    terminate: () => {
      if (terminated) return;
      terminated = true;
      try {
        controller?.terminate();
      } catch {
        // already closed or errored
      }
    },
  };
}
