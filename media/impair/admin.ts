/**
 * The impairer's control hook over HTTP, for tests and benches in other
 * processes (in-process callers use the `Impairer` itself):
 *
 *   GET  /stats                       counters of both directions, clients, rebinds
 *   GET  /clients                     client -> upstream address (as the target sees it)
 *   GET  /profile                     the current profiles
 *   POST /profile?direction=up|down   body: a profile spec ("loss2", "loss=2%,delay=75", ...)
 *   POST /blackout?ms=1000            drop everything both ways for that long
 *   POST /rebind?client=ip:port       new upstream source port(s): one client, or all
 *   POST /reset?client=ip:port        TCP mode: reset one client's connection (both sides), or all
 */
import { Hono } from "hono";
import type { Endpoint } from "../../shared/hint.ts";
import { apiError } from "../runtime/api-error.ts";
import { type HttpServer, serveApp } from "../runtime/http-serve.ts";
import type { Direction, Impairer } from "./impairer.ts";
import { parseProfile } from "./profile.ts";

const MAX_BLACKOUT_MS = 600_000;

export function impairApp(impairer: Impairer): Hono {
  const app = new Hono();
  app.get("/stats", (c) => c.json(impairer.stats));
  app.get("/clients", (c) => c.json({ clients: impairer.clients() }));
  app.get("/profile", (c) => c.json({ up: impairer.profile("up"), down: impairer.profile("down") }));
  app.post("/profile", async (c) => {
    const direction = c.req.query("direction") ?? "both";
    if (direction !== "up" && direction !== "down" && direction !== "both")
      return apiError(400, "invalid_direction", 'direction must be "up", "down" or "both"');
    let profile: ReturnType<typeof parseProfile>;
    try {
      profile = parseProfile(await c.req.text());
    } catch (err) {
      return apiError(400, "invalid_profile", (err as Error).message);
    }
    impairer.setProfile(profile, direction as Direction);
    return c.json({ up: impairer.profile("up"), down: impairer.profile("down") });
  });
  app.post("/blackout", (c) => {
    const ms = Number(c.req.query("ms"));
    if (!Number.isInteger(ms) || ms < 1 || ms > MAX_BLACKOUT_MS)
      return apiError(400, "invalid_blackout", `ms must be an integer 1..${MAX_BLACKOUT_MS}`);
    impairer.blackout(ms);
    return c.json({ ms });
  });
  app.post("/rebind", async (c) => {
    const client = c.req.query("client");
    const rebound = await impairer.rebind(client);
    if (client && rebound.length === 0) return apiError(404, "client_not_found", `no client ${client}`);
    return c.json({ rebound });
  });
  app.post("/reset", (c) => {
    if (!impairer.tcp) return apiError(409, "tcp_off", "the impairer runs no TCP mode (--tcp-listen)");
    const client = c.req.query("client");
    const reset = impairer.tcp.reset(client);
    if (client && reset.length === 0) return apiError(404, "client_not_found", `no connection ${client}`);
    return c.json({ reset });
  });
  return app;
}

export function startImpairAdmin(at: Endpoint, impairer: Impairer): Promise<HttpServer> {
  return serveApp(impairApp(impairer), at, "impairer admin");
}
