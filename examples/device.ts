// `task device`: an alias of `sealroute device` (the program lives in cli/_device_role.ts).
import { runMain } from "../cli/_roles_common.ts";
import { deviceMain as main } from "../cli/_device_role.ts";

export * from "../cli/_device.ts";

if (import.meta.main) await runMain((stop) => main(Deno.args, stop));
