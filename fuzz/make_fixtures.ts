// Writes fuzz/testdata/fixtures.json: valid encodings of every identity structure, made
// once (identities hold random keys) so that a fuzz seed replays the same cases.
//
//   npx -y deno@2.9.6 run -A fuzz/make_fixtures.ts
import { toHex } from "../_bytes.ts";
import {
  createIdentity,
  encodeCredential,
  encodeIdentityAndCredentials,
  encodePurposeKeyAttestation,
  encodeRefreshCredentials,
  issueCredential,
} from "../identity/mod.ts";
import { Vault } from "../vault/mod.ts";

// The fuzz targets verify with this clock; everything is valid for ten years from it.
const T = 1_700_000_000;
const clock = () => T;
const ttl = 10 * 365 * 24 * 3600;

const authority = await createIdentity(new Vault(), { clock, ttl });
const device = await createIdentity(new Vault(), { clock, ttl });
const credential = await issueCredential({
  issuer: authority,
  subject: device.identity,
  attributes: { role: "sensor", site: "berlin", "ockam-relay": "*" },
  ttl,
  clock,
});
const channelKey = await device.secureChannelKey({ clock, ttl });
const rotated = await createIdentity(new Vault(), { clock, ttl });
await rotated.rotate({ clock, ttl });

const fixtures = {
  about: "Made by fuzz/make_fixtures.ts; valid from clock " + T + " for ten years.",
  clock: T,
  authorityChangeHistory: toHex(authority.changeHistory),
  deviceChangeHistory: toHex(device.changeHistory),
  rotatedChangeHistory: toHex(rotated.changeHistory),
  credential: toHex(encodeCredential(credential)),
  purposeKeyAttestation: toHex(encodePurposeKeyAttestation(channelKey.attestation)),
  remoteStaticKey: toHex(channelKey.key.publicKey),
  identityAndCredentials: toHex(encodeIdentityAndCredentials({
    changeHistory: device.changeHistory,
    purposeKeyAttestation: channelKey.attestation,
    credentials: [credential],
  })),
  refreshCredentials: toHex(encodeRefreshCredentials({
    changeHistory: device.changeHistory,
    credentials: [credential],
  })),
};
const path = new URL("./testdata/fixtures.json", import.meta.url);
await Deno.writeTextFile(path, JSON.stringify(fixtures, null, 2) + "\n");
console.log(`wrote ${path.pathname}`);
