// Internal: the transport halves of a new channel (resumable or not) and of a resumed one.
import type { Address } from "../routing/address.ts";
import type { Node } from "../routing/node.ts";
import type { Route } from "../routing/route.ts";
import { CipherState } from "./cipher_state.ts";
import type { ChannelState } from "./channel_state.ts";
import { Decryptor, type DecryptorOptions } from "./decryptor.ts";
import { Encryptor, KEY_RENEWAL_INTERVAL } from "./encryptor.ts";
import type { ChannelPeer, SecureChannelOptions } from "./secure_channel_options.ts";
import { ChannelJournal, DEFAULT_RESERVE_EPOCHS } from "./_channel_journal.ts";
import { errorFields } from "./_handshake.ts";

/** A channel's sending and receiving state, and its journal when it is resumable. */
export interface TransportHalves {
  encryptor: Encryptor;
  decryptor: Decryptor;
  journal?: ChannelJournal;
}

/** What a new channel is, for its first record. */
export interface ChannelFacts {
  node: Node;
  role: "initiator" | "responder";
  encryptorAddress: Address;
  decryptorAddress: Address;
  route: Route;
  peer: ChannelPeer;
  listener?: Address;
}

function decryptorOptions(options: SecureChannelOptions): DecryptorOptions {
  return {
    ...(options.replayWindow ? { windowSize: options.replayWindow } : {}),
    ...(options.maxEpochsAhead ? { maxEpochsAhead: options.maxEpochsAhead } : {}),
  };
}

function journalLog(node: Node, address: Address) {
  return (level: "debug" | "warn" | "error", message: string, error: unknown) =>
    node.logger[level](`secure channel ${address}: ${message}`, errorFields(error));
}

/**
 * The halves of a channel that just completed its handshake. With `options.resume`, its
 * first record (a reservation of the first nonces and the receive key of epoch 0) is being
 * written when this returns, and no frame goes out before it is. `receiveBytes` (the receive
 * key's bytes from the split) are kept in that record, or zeroed.
 */
export async function newTransport(
  options: SecureChannelOptions,
  keys: { send: CipherState; receive: CipherState; receiveBytes: Uint8Array },
  facts: ChannelFacts,
): Promise<TransportHalves> {
  const store = options.resume;
  if (!store) {
    keys.receiveBytes.fill(0);
    return {
      encryptor: new Encryptor(keys.send),
      decryptor: new Decryptor(keys.receive, decryptorOptions(options)),
    };
  }
  const epochs = options.reserveEpochs ?? DEFAULT_RESERVE_EPOCHS;
  let sendKey = keys.send;
  for (let i = 1; i < epochs; i++) sendKey = await sendKey.rekeyed();
  const state: ChannelState = {
    role: facts.role,
    cipher: keys.send.cipher,
    identifier: options.identity.identifier,
    encryptorAddress: facts.encryptorAddress,
    decryptorAddress: facts.decryptorAddress,
    route: facts.route,
    peer: facts.peer,
    send: { epoch: epochs, key: await sendKey.rekeyedKeyBytes() },
    // The receive key of epoch 0, as the split made it; later records hold later epochs'.
    receive: { epoch: 0, key: keys.receiveBytes, floor: -1 },
    ...(facts.listener ? { listener: facts.listener } : {}),
  };
  const journal = new ChannelJournal({
    store,
    id: store.newId(),
    state,
    reserved: 0,
    reserveEpochs: epochs,
    log: journalLog(facts.node, facts.encryptorAddress),
  });
  const encryptor = new Encryptor(keys.send, {
    reserve: (nonce, key) => journal.reserve(nonce, key),
  });
  // The first record is written now, not at the first frame sent.
  journal.reserve(0, Promise.resolve(keys.send))?.catch(() => {});
  const decryptor = new Decryptor(keys.receive, {
    ...decryptorOptions(options),
    keyBytesReader: (read) => journal.readKeysWith(read),
  });
  return { encryptor, decryptor, journal };
}

/** The halves of a channel resumed from its record `state` (stored under `id`). */
export async function resumedTransport(
  options: SecureChannelOptions,
  state: ChannelState,
  facts: { node: Node; id: string },
): Promise<Required<TransportHalves>> {
  const store = options.resume!;
  const sendKey = await CipherState.create(state.cipher, state.send.key);
  const receiveKey = await CipherState.create(state.cipher, state.receive.key);
  const start = state.send.epoch * KEY_RENEWAL_INTERVAL;
  const journal = new ChannelJournal({
    store,
    id: facts.id,
    state,
    reserved: start,
    reserveEpochs: options.reserveEpochs ?? DEFAULT_RESERVE_EPOCHS,
    log: journalLog(facts.node, state.encryptorAddress),
  });
  const encryptor = new Encryptor(sendKey, {
    start,
    reserve: (nonce, key) => journal.reserve(nonce, key),
  });
  const decryptor = new Decryptor(receiveKey, {
    ...decryptorOptions(options),
    resume: { epoch: state.receive.epoch, floor: state.receive.floor },
    keyBytesReader: (read) => journal.readKeysWith(read),
  });
  return { encryptor, decryptor, journal };
}
