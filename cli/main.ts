// `deno task sealroute …` / `deno install -A -n sealroute cli/main.ts`.
import { main } from "./deno.ts";

Deno.exit(await main(Deno.args));
