/** Small admin HTTP server (Hono): /metrics for Prometheus, /healthz for probes. Off the packet path. */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import type { Registry } from "prom-client";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";

export interface AdminServer {
  address: Endpoint;
  close(): Promise<void>;
}

export async function startAdmin(
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
  const server = createAdaptorServer({ fetch: app.fetch });
  server.listen(at.port, at.address);
  try {
    await once(server, "listening");
  } catch (err) {
    throw new Error(`cannot listen for admin on ${formatEndpoint(at)}: ${(err as Error).message}`);
  }
  const a = server.address() as AddressInfo;
  return {
    address: { address: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      }),
  };
}
