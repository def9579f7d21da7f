/**
 * The transceiver's internal session API (docs/transceiver.md), on Hono.
 * Callers are the edge and operators; errors use the Realtime API's shape.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { formatEndpoint, parseEndpoint } from "../../shared/ip.ts";
import {
  CreateSessionBody,
  MAX_REQUEST_BYTES,
  RestartBody,
  SESSIONS_PATH,
  sessionPath,
} from "../../shared/session-api.ts";
import { BackendError } from "./bridge/backends.ts";
import type { TransceiverPool } from "./pool.ts";
import { CapacityError, OfferError } from "./session-host.ts";
import type { HostAddress } from "./session-id.ts";

/** Marks a request one host forwarded to another, so it is never forwarded again. */
const FORWARDED = "x-voice-edge-forwarded";
const FORWARD_TIMEOUT_MS = 2000;

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
    SESSIONS_PATH,
    bodyLimit({
      maxSize: MAX_REQUEST_BYTES,
      onError: () => apiError(413, "body_too_large", "the request body is too large"),
    }),
    async (c) => {
      const type = c.req.header("content-type") ?? "";
      let body: CreateSessionBody;
      if (type.startsWith("application/sdp")) {
        body = { sdp: await c.req.text(), ingress: c.req.query("ingress") };
      } else {
        const json = await c.req.json().catch(() => undefined);
        const parsed = CreateSessionBody.safeParse(json);
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

  app.get(SESSIONS_PATH, async (c) => c.json({ sessions: await pool.list() }));
  // A session of another host of this cluster (a Service spreads requests over pods): ask that host once.
  const forward = async (
    method: "GET" | "DELETE" | "POST",
    host: HostAddress,
    id: string,
    sdp?: string,
  ): Promise<Response> => {
    try {
      const r = await fetch(`http://${formatEndpoint(host)}${sessionPath(id, sdp !== undefined)}`, {
        method,
        headers: {
          [FORWARDED]: "1",
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(sdp === undefined ? {} : { "content-type": "application/sdp" }),
        },
        body: sdp,
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      return new Response(r.status === 204 ? null : await r.text(), {
        status: r.status,
        headers: { "content-type": r.headers.get("content-type") ?? "application/json" },
      });
    } catch (err) {
      return apiError(
        502,
        "transceiver_unreachable",
        `the session's host did not answer: ${(err as Error).message}`,
      );
    }
  };
  const notFound = () => apiError(404, "session_not_found", "no such session");

  app.get("/v1/sessions/:id", async (c) => {
    const id = c.req.param("id");
    const route = pool.resolve(id);
    if (!route) return notFound();
    if ("remote" in route) return c.req.header(FORWARDED) ? notFound() : forward("GET", route.remote, id);
    const s = await pool.getSession(route.local);
    return s ? c.json(s) : notFound();
  });
  // ICE restart: the client's re-offer (new ICE credentials); the answer carries a new ufrag, and the old
  // one stays routable until the session ends.
  app.post(
    "/v1/sessions/:id/offer",
    bodyLimit({
      maxSize: MAX_REQUEST_BYTES,
      onError: () => apiError(413, "body_too_large", "the request body is too large"),
    }),
    async (c) => {
      const id = c.req.param("id");
      const route = pool.resolve(id);
      if (!route) return notFound();
      const sdp = (c.req.header("content-type") ?? "").startsWith("application/sdp")
        ? await c.req.text()
        : RestartBody.safeParse(await c.req.json().catch(() => undefined)).data?.sdp;
      if (sdp === undefined) return apiError(400, "invalid_offer", "no SDP offer in the body");
      if ("remote" in route)
        return c.req.header(FORWARDED) ? notFound() : forward("POST", route.remote, id, sdp);
      try {
        const restarted = await pool.restartSession(route.local, sdp);
        return restarted ? c.json(restarted) : notFound();
      } catch (err) {
        if (err instanceof OfferError) return apiError(400, "invalid_offer", err.message);
        throw err;
      }
    },
  );
  app.delete("/v1/sessions/:id", async (c) => {
    const id = c.req.param("id");
    const route = pool.resolve(id);
    if (!route) return notFound();
    if ("remote" in route) return c.req.header(FORWARDED) ? notFound() : forward("DELETE", route.remote, id);
    return (await pool.endSession(route.local)) ? c.body(null, 204) : notFound();
  });
  opts.extend?.(app);
  return app;
}
