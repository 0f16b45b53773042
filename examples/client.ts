// `task client`: an alias of `sealroute client` (the program lives in cli/_client.ts).
import { runMain } from "../cli/_roles_common.ts";
import { main } from "../cli/_client.ts";

export * from "../cli/_client.ts";

if (import.meta.main) await runMain((stop) => main(Deno.args, stop));
