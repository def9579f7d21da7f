/**
 * The transceiver's internal session API (contract: shared/session-api.ts), on
 * Hono, one file per route group. Callers are the edge and operators; errors
 * use the Realtime API's shape.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { MAX_REQUEST_BYTES, SESSIONS_PATH } from "../../../shared/session-api.ts";
import { apiError } from "../../runtime/api-error.ts";
import type { TransceiverPool } from "../pool.ts";
import { bearerAuth } from "./auth.ts";
import { createSessionRoute } from "./create.ts";
import { healthRoute } from "./health.ts";
import { sessionRoutes } from "./session.ts";

export interface ApiOptions {
  /** Every request but /healthz and /metrics needs "Authorization: Bearer <token>". */
  token: string;
  /** Extra routes (e.g. /metrics) added by the caller. */
  extend?: (app: Hono) => void;
}

const capped = bodyLimit({
  maxSize: MAX_REQUEST_BYTES,
  onError: () => apiError(413, "body_too_large", "the request body is too large"),
});

export function createApi(pool: TransceiverPool, opts: ApiOptions): Hono {
  const app = new Hono();
  app.onError((err) => apiError(500, "internal_error", `internal error: ${err.message}`));
  app.notFound((c) => apiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`));

  app.get("/healthz", healthRoute(pool));

  app.use("/v1/*", bearerAuth(opts.token));

  const session = sessionRoutes(pool, opts.token);
  app.post(SESSIONS_PATH, capped, createSessionRoute(pool));
  app.get(SESSIONS_PATH, async (c) => c.json({ sessions: await pool.list() }));
  app.get(`${SESSIONS_PATH}/:id`, session.get);
  app.post(`${SESSIONS_PATH}/:id/offer`, capped, session.restart);
  app.delete(`${SESSIONS_PATH}/:id`, session.end);
  opts.extend?.(app);
  return app;
}
