// `task device`: an alias of `sealroute device` (the program lives in cli/_device.ts).
import { runMain } from "../cli/_roles_common.ts";
import { main } from "../cli/_device.ts";

export * from "../cli/_device.ts";

if (import.meta.main) await runMain((stop) => main(Deno.args, stop));
