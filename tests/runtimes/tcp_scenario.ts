/**
 * The TCP part of the runtime matrix: a secure channel over real TCP, through the Node
 * adapter (`transport/node.ts`, `node:net`), to the hub's relay (`hub.ts`, a Deno node
 * listening with the Deno adapter) and on to its device over WebSocket. Node 20 and Bun run
 * it from an ESM build for the Node platform (`dist/node/`), Deno from source: the same
 * Ockam TCP bytes whichever side speaks them.
 *
 * @module
 */
import { createSecureChannel } from "../../channel/mod.ts";
import { createIdentity, trustIdentifiers } from "../../identity/mod.ts";
import { Node } from "../../routing/mod.ts";
import { connectTcp } from "../../transport/node.ts";
import { Vault } from "../../vault/mod.ts";
import { type HubInfo, ScenarioError } from "./scenario.ts";

/** What the TCP part proved. */
export interface TcpReport {
  /** Messages echoed through the channel. */
  messages: number;
  /** The relay the channel went through. */
  relay: string;
  /** Largest payload echoed, in bytes (several TCP reads and writes each way). */
  largest: number;
}

const encoder = new TextEncoder();

/** Runs the TCP part against `hub`; throws a {@linkcode ScenarioError} on a failed check. */
export async function runTcpScenario(hub: HubInfo): Promise<TcpReport> {
  if (!hub.tcp) throw new ScenarioError("the hub does not listen on TCP");
  const node = new Node();
  try {
    const me = await createIdentity(new Vault());
    const connection = await connectTcp(node, hub.tcp);
    const channel = await createSecureChannel(
      node,
      connection.route.append(hub.relay).append("api"),
      {
        identity: me,
        trustPolicy: trustIdentifiers(hub.device),
        timeout: 10_000,
      },
    );
    if (channel.remoteIdentifier !== hub.device) {
      throw new ScenarioError(
        `TCP channel: expected peer ${hub.device}, got ${channel.remoteIdentifier}`,
      );
    }
    const count = 40; // past a rekey interval (32 messages)
    let largest = 0;
    for (let i = 0; i < count; i++) {
      // Mostly small messages, and every tenth 200 KB: written and read in many pieces.
      const size = i % 10 === 9 ? 200_000 : 16 + i * 7;
      const payload = new Uint8Array(size).map((_, j) => (i + j) & 0xff);
      payload.set(encoder.encode(`tcp #${i}`));
      const reply = await channel.request("echo", payload, { timeout: 10_000 });
      if (
        reply.payload.length !== size ||
        !reply.payload.every((b, j) => b === payload[j])
      ) {
        throw new ScenarioError(`TCP channel: echo reply ${i} does not match`);
      }
      largest = Math.max(largest, size);
    }
    await channel.close();
    return { messages: count, relay: hub.relay, largest };
  } finally {
    await node.close();
  }
}
