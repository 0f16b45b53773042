// A `node:net` socket as a `Duplex`, with backpressure both ways and a bounded close: the
// byte stream under the Node adapter's TCP connections.
import type * as net from "node:net";
import { TransportError } from "../errors.ts";
import type { Duplex } from "./duplex.ts";

/** Bytes read from a socket and not yet taken by the connection above which reading pauses. */
const READ_HIGH_WATER = 64 * 1024;
/** How long closing a socket waits for bytes still buffered in it to reach the kernel, in ms. */
export const LINGER = 1000;

/**
 * Wraps a connected `node:net` socket as a {@linkcode Duplex}, with backpressure both
 * ways: reading pauses while 64 KiB read are not yet taken, and a write resolves at once
 * only while the socket's own buffer is under its high-water mark (`socket.write`
 * returned `true`), else on `drain`, so a peer that stops reading stalls the writer instead
 * of growing a buffer. `close()` lets buffered bytes reach the kernel (1 s at most), then
 * destroys the socket; the socket's errors end the streams instead of being thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as net from "node:net";
 * import { socketDuplex } from "@sealroute/sealroute/transport/node";
 *
 * const server = net.createServer();
 * const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as net.AddressInfo;
 * const socket = net.connect(port, "127.0.0.1");
 * await new Promise((resolve) => socket.once("connect", resolve));
 * const a = socketDuplex(socket);
 * const b = socketDuplex(await accepted);
 * const writer = a.writable.getWriter();
 * await writer.write(new Uint8Array([1, 2, 3]));
 * const { value } = await b.readable.getReader().read();
 * assert.deepEqual([...value!], [1, 2, 3]);
 * await a.close();
 * await b.close();
 * await new Promise((resolve) => server.close(resolve));
 * ```
 */
export function socketDuplex(socket: net.Socket): Duplex {
  let failure: Error | undefined;
  let ended = false;
  let closing: Promise<void> | undefined;
  const gone = new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
  // Always listened to: an unhandled `error` event would throw out of the event loop.
  socket.on("error", (error: Error) => {
    failure ??= error;
  });
  const closedError = () =>
    failure ?? new TransportError("connection-closed", "the socket is closed");
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      const finish = () => {
        if (ended) return;
        ended = true;
        if (failure) controller.error(failure);
        else controller.close();
      };
      socket.on("data", (data: Uint8Array) => {
        if (ended) return;
        // A plain view: Buffer's `slice` would not copy.
        controller.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) socket.pause();
      });
      socket.once("end", finish);
      socket.once("close", finish);
    },
    pull() {
      if (!ended && socket.isPaused()) socket.resume();
    },
    cancel() {
      ended = true;
      socket.pause();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: READ_HIGH_WATER }));
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed || !socket.writable) throw closedError();
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const settle = () => {
          socket.off("drain", settle);
          socket.off("close", settle);
          if (socket.destroyed) reject(closedError());
          else resolve();
        };
        socket.on("drain", settle);
        socket.on("close", settle);
      });
    },
    close() {
      socket.end();
    },
    abort() {
      socket.destroy();
    },
  });
  return {
    readable,
    writable,
    close(): Promise<void> {
      closing ??= (async () => {
        if (!socket.destroyed && socket.writableLength > 0 && !socket.writableEnded) {
          // Bytes the writer handed over but the socket still holds: flush them first.
          const flushed = new Promise<void>((resolve) => {
            socket.once("finish", resolve);
            socket.once("close", resolve);
          });
          socket.end();
          await bounded(flushed, LINGER);
        }
        socket.destroy();
        await bounded(gone, LINGER);
      })();
      return closing;
    },
  };
}

/** Waits for `p`, at most `ms`. */
export async function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
