/**
 * The HTTP surface: OpenAI Realtime-compatible routes plus operator
 * endpoints, with CORS, request ids and JSON errors around all of them.
 */
import { type Handler, Hono } from "hono";
import type { AppEnv } from "./app-env.ts";
import { demoPage } from "./demo/page.ts";
import { corsHeaders, parseCorsOrigins, preflightHeaders } from "./http/cors.ts";
import { ApiError, internalError, methodNotAllowed, notFoundRoute } from "./http/errors.ts";
import { createCall } from "./routes/calls.ts";
import { createBetaSession, createClientSecret } from "./routes/client-secrets.ts";
import { hangupCall } from "./routes/hangup.ts";
import { randomId } from "./routes/ids.ts";
import { createLiveSession } from "./routes/live.ts";
import { edgeHealthz, poolHealth } from "./routes/ops.ts";
import { restartCall } from "./routes/restart.ts";
import { attachSideband } from "./routes/sideband.ts";
import { loadRuntime } from "./runtime.ts";

export const app = new Hono<AppEnv>();

app.use("*", async (c, next) => {
  const requestId = randomId("req_", 9);
  c.set("requestId", requestId);
  const cors = parseCorsOrigins(c.env.CORS_ALLOW_ORIGINS);
  const origin = c.req.header("origin") ?? null;
  if (c.req.method === "OPTIONS") {
    const headers = preflightHeaders(cors, origin, c.req.header("access-control-request-headers") ?? null);
    if (!headers) {
      const err = new ApiError(403, "This origin is not allowed to call the edge.", "origin_not_allowed");
      return withHeaders(err.toResponse(), { "x-request-id": requestId });
    }
    return new Response(null, { status: 204, headers: { ...headers, "x-request-id": requestId } });
  }
  await next();
  // A proxied WebSocket's 101 carries its socket: pass it through untouched.
  if (c.res.status === 101) return;
  c.res = withHeaders(c.res, { ...corsHeaders(cors, origin), "x-request-id": requestId });
});

// The dev environment carries well-known secrets: serve loopback hosts only, so an accidental deploy
// of the top-level (dev) configuration answers nothing.
app.use("*", async (c, next) => {
  if (c.env.VOICE_EDGE_ENV === "dev" && !isLoopbackHost(new URL(c.req.url).hostname)) {
    throw new ApiError(
      403,
      "This edge runs with VOICE_EDGE_ENV=dev and serves loopback hosts only.",
      "dev_only",
    );
  }
  await next();
});

app.use("/v1/*", async (c, next) => {
  const loaded = loadRuntime(c.env);
  if (!loaded.ok) throw new ApiError(500, "The edge is misconfigured; see its logs.", "edge_misconfigured");
  c.set("runtime", loaded.runtime);
  await next();
});

const ROUTES: [method: "GET" | "POST", path: string, handler: Handler<AppEnv>][] = [
  ["POST", "/v1/realtime/client_secrets", createClientSecret],
  ["POST", "/v1/realtime/sessions", createBetaSession],
  ["POST", "/v1/realtime/calls", createCall],
  ["POST", "/v1/realtime", createCall],
  ["POST", "/v1/realtime/calls/:call_id/hangup", hangupCall],
  ["POST", "/v1/realtime/calls/:call_id", restartCall],
  ["POST", "/v1/live/sessions", createLiveSession],
  ["POST", "/v1/live/sessions/:session_id/hangup", hangupCall],
  ["GET", "/v1/realtime", attachSideband],
  ["GET", "/v1/live/sessions/:session_id/attach", attachSideband],
  ["GET", "/v1/edge/health", poolHealth],
  ["GET", "/healthz", edgeHealthz],
  // The demo page (docs/demo.md): a browser client for the routes above, served by the Worker itself.
  ["GET", "/", demoPage],
  ["GET", "/demo", demoPage],
];
for (const [method, path, handler] of ROUTES) app.on(method, path, handler);
// A known path asked with another method (any workerd passes on; it answers unknown ones itself, docs/edge.md):
// 405 with Allow. HEAD goes to GET routes; OPTIONS is the CORS preflight above.
const methodsOf = new Map<string, string[]>();
for (const [method, path] of ROUTES) methodsOf.set(path, [...(methodsOf.get(path) ?? []), method]);
for (const [path, methods] of methodsOf) {
  const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"];
  app.all(path, (c) => methodNotAllowed(c.req.method, new URL(c.req.url).pathname, allow).toResponse());
}

app.notFound((c) => notFoundRoute(c.req.method, new URL(c.req.url).pathname).toResponse());

app.onError((err, c) => {
  if (err instanceof ApiError) return err.toResponse();
  const requestId = c.get("requestId") ?? "unknown";
  console.error(`voice-edge: unhandled error in ${c.req.method} ${c.req.path} (${requestId}):`, err);
  return internalError(requestId).toResponse();
});

function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Responses from fetch() have immutable headers; copy when adding. */
function withHeaders(res: Response, headers: Record<string, string>): Response {
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
  return out;
}
