// Child of tests/authority_test.ts: redeems tickets in a SQLite member store as fast as it
// can, printing "redeemed N" after each committed redemption, until it is killed.
import { Authority } from "../authority/mod.ts";
import { SqliteMemberStore } from "../authority/deno.ts";
import { createIdentity } from "../identity/mod.ts";
import { Vault } from "../vault/mod.ts";

const path = Deno.args[0]!;
const authority = new Authority({
  identity: await createIdentity(new Vault()),
  store: new SqliteMemberStore(path),
});
for (let n = 1;; n++) {
  const { code } = await authority.createTicket({ attributes: { n: String(n) } });
  await authority.redeem(code, "I" + n.toString(16).padStart(64, "0"));
  console.log(`redeemed ${n}`);
}
