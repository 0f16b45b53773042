// Internal: tells what a peer speaks when its first bytes are not Ockam's TCP protocol version
// byte, so a wrong port is reported as such (`wrong-protocol`) instead of as a bad version.
import { TransportError } from "../errors.ts";

/** Protocols recognised from a peer's first bytes, with a hint for each. */
const KNOWN: readonly { name: string; starts: readonly string[]; hint: string }[] = [
  {
    name: "HTTP",
    // A server's answer (an HTTP client on a listener's port stays `bad-protocol-version`).
    starts: ["HTTP/"],
    hint: "is this a WebSocket/HTTP port instead of the node's TCP port?",
  },
  { name: "SSH", starts: ["SSH-"], hint: "is this an SSH port?" },
];

/**
 * The protocol the first bytes `head` of a stream look like, or `undefined`. A chunk shorter
 * than a signature matches when it is a prefix of it (an HTTP answer may arrive as `H`).
 */
export function sniffProtocol(head: Uint8Array): { name: string; hint: string } | undefined {
  if (head.length === 0) return undefined;
  for (const { name, starts, hint } of KNOWN) {
    for (const start of starts) {
      const n = Math.min(start.length, head.length);
      let match = true;
      for (let i = 0; i < n && match; i++) match = head[i] === start.charCodeAt(i);
      if (match) return { name, hint };
    }
  }
  // A TLS record header: alert (0x15) or handshake (0x16), then version major 3.
  if ((head[0] === 0x15 || head[0] === 0x16) && (head.length < 2 || head[1] === 0x03)) {
    return { name: "TLS", hint: "is this a TLS (https/wss) port?" };
  }
  return undefined;
}

/** The `wrong-protocol` error for a peer whose first bytes `head` look like another protocol. */
export function wrongProtocol(head: Uint8Array, peer: string): TransportError | undefined {
  const known = sniffProtocol(head);
  if (!known) return undefined;
  return new TransportError(
    "wrong-protocol",
    `${peer} speaks ${known.name}, not Ockam's TCP protocol (${known.hint})`,
  );
}
