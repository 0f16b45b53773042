/**
 * The runtime scenario as a Cloudflare Worker (run by workerd): `GET /?hub=<HubInfo JSON>&runtime=<name>`
 * runs the whole scenario, the WebSocket part through the hub's relay, and answers
 * `{ ok: true, report }` or `{ ok: false, error }` (status 500).
 *
 * @module
 */
import { type HubInfo, runScenario } from "./scenario.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const hubParam = params.get("hub");
    const runtime = params.get("runtime") ?? "workerd";
    try {
      const hub = hubParam ? JSON.parse(hubParam) as HubInfo : undefined;
      const report = await runScenario({ runtime, ...(hub ? { hub } : {}) });
      return Response.json({ ok: true, report });
    } catch (error) {
      const text = error instanceof Error ? `${error.stack ?? error}` : String(error);
      return Response.json({ ok: false, error: text }, { status: 500 });
    }
  },
};
