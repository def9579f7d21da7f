/** Small admin HTTP server (Hono): /metrics for Prometheus, /healthz for probes. Off the packet path. */
import { Hono } from "hono";
import type { Registry } from "prom-client";
import type { Endpoint } from "../../shared/hint.ts";
import { type HttpServer, serveApp } from "../runtime/http-serve.ts";

export type AdminServer = HttpServer;

export function startAdmin(
  at: Endpoint,
  registry: Registry,
  health: () => Record<string, unknown>,
): Promise<AdminServer> {
  const app = new Hono();
  app.get("/metrics", async (c) =>
    c.body(await registry.metrics(), 200, { "content-type": registry.contentType }),
  );
  // 503 when health says ok: false (draining): load balancers stop sending new clients.
  app.get("/healthz", (c) => {
    const h = { ok: true, ...health() };
    return c.json(h, h.ok === false ? 503 : 200);
  });
  return serveApp(app, at, "admin");
}
