/**
 * The transceiver's internal session API (docs/transceiver.md), on Hono.
 * Callers are the edge and operators; errors use the Realtime API's shape.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { parseEndpoint } from "../../shared/ip.ts";
import { MAX_OFFER_BYTES } from "../../shared/offer.ts";
import { BackendError } from "./bridge/backends.ts";
import type { TransceiverPool } from "./pool.ts";
import { CapacityError, OfferError } from "./worker.ts";

const createBody = z.object({
  sdp: z.string(),
  ingress: z.string().optional(),
  session: z.unknown().optional(),
  call_id: z.string().max(256).optional(),
});

export interface ApiOptions {
  /** If set, every request but /healthz needs "Authorization: Bearer <token>". */
  token?: string;
  /** Extra routes (e.g. /metrics) added by the caller. */
  extend?: (app: Hono) => void;
}

export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  type = "invalid_request_error",
) {
  return Response.json({ error: { message, type, param: null, code } }, { status });
}

export function createApi(pool: TransceiverPool, opts: ApiOptions = {}): Hono {
  const app = new Hono();
  app.onError((err) => apiError(500, "internal_error", `internal error: ${err.message}`, "server_error"));
  app.notFound((c) => apiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`));

  app.get("/healthz", (c) => {
    const h = pool.health();
    return c.json(h, h.status === "draining" ? 503 : 200);
  });

  if (opts.token) {
    const expected = `Bearer ${opts.token}`;
    app.use("/v1/*", async (c, next) => {
      if (c.req.header("authorization") !== expected)
        return apiError(401, "invalid_api_key", "missing or wrong bearer token");
      await next();
    });
  }

  app.post(
    "/v1/sessions",
    bodyLimit({
      maxSize: MAX_OFFER_BYTES + 16 * 1024,
      onError: () => apiError(413, "body_too_large", "the request body is too large"),
    }),
    async (c) => {
      const type = c.req.header("content-type") ?? "";
      let body: z.infer<typeof createBody>;
      if (type.startsWith("application/sdp")) {
        body = { sdp: await c.req.text(), ingress: c.req.query("ingress") };
      } else {
        const json = await c.req.json().catch(() => undefined);
        const parsed = createBody.safeParse(json);
        if (!parsed.success)
          return apiError(400, "invalid_request", "body must be JSON {sdp, ingress?, session?, call_id?}");
        body = parsed.data;
      }
      let ingress: { address: string; port: number } | undefined;
      if (body.ingress !== undefined) {
        ingress = parseEndpoint(body.ingress);
        if (!ingress) return apiError(400, "invalid_ingress", `ingress "${body.ingress}" is not ip:port`);
      }
      try {
        const created = await pool.createSession({
          sdp: body.sdp,
          ingress,
          session: body.session,
          callId: body.call_id,
        });
        return c.json(created, 201);
      } catch (err) {
        if (err instanceof OfferError) return apiError(400, "invalid_offer", err.message);
        if (err instanceof BackendError) {
          const r = apiError(
            err.status,
            err.code,
            err.message,
            err.status >= 500 ? "server_error" : undefined,
          );
          if (err.status === 503) r.headers.set("Retry-After", "1");
          return r;
        }
        if (err instanceof CapacityError) {
          const r = apiError(503, "capacity_exceeded", err.message, "server_error");
          r.headers.set("Retry-After", "1");
          return r;
        }
        throw err;
      }
    },
  );

  app.get("/v1/sessions", async (c) => c.json({ sessions: await pool.list() }));
  app.get("/v1/sessions/:id", async (c) => {
    const s = await pool.getSession(c.req.param("id"));
    return s ? c.json(s) : apiError(404, "session_not_found", "no such session");
  });
  app.delete("/v1/sessions/:id", async (c) =>
    (await pool.endSession(c.req.param("id")))
      ? c.body(null, 204)
      : apiError(404, "session_not_found", "no such session"),
  );
  opts.extend?.(app);
  return app;
}
