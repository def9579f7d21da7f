/** GET /healthz: what the edge's monitors probe; 503 while draining so the edge goes elsewhere. */
import type { Context } from "hono";
import type { TransceiverPool } from "../pool.ts";

export function healthRoute(pool: TransceiverPool) {
  return (c: Context): Response => {
    const h = pool.health();
    return c.json(h, h.status === "draining" ? 503 : 200);
  };
}
