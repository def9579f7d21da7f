/** A small Hono app served over HTTP on one address (admin and control servers, off the packet path). */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";

export interface HttpServer {
  address: Endpoint;
  close(): Promise<void>;
}

export async function serveApp(app: Hono, at: Endpoint, what: string): Promise<HttpServer> {
  const server = createAdaptorServer({ fetch: app.fetch });
  server.listen(at.port, at.address);
  try {
    await once(server, "listening");
  } catch (err) {
    throw new Error(`cannot listen for ${what} on ${formatEndpoint(at)}: ${(err as Error).message}`);
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
