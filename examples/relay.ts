// `task relay`: an alias of `sealroute relay` (the program lives in cli/_relay.ts).
import { runMain } from "../cli/_roles_common.ts";
import { main } from "../cli/_relay.ts";

export * from "../cli/_relay.ts";

if (import.meta.main) await runMain((stop) => main(Deno.args, stop));
