/**
 * The routes of one session, /v1/sessions/{id}: read, ICE restart, end. A session of another host
 * of the cluster is forwarded there once; a forwarded request that is not ours is a 404.
 */
import type { Context } from "hono";
import { parseBoundedJson } from "../../../shared/json-bounds.ts";
import { RestartBody } from "../../../shared/session-api.ts";
import { apiError } from "../../runtime/api-error.ts";
import type { TransceiverPool } from "../pool.ts";
import { sessionFailure, sessionNotFound } from "./errors.ts";
import { FORWARDED, forwardToHost } from "./forward.ts";

/** Answers for a session of this host; `sdp` is the re-offer, for the restart route. */
type Local = (local: string, c: Context, sdp: string | undefined) => Promise<Response>;

/** Resolves the id, then answers locally, forwards, or 404s. */
function perSession(
  pool: TransceiverPool,
  token: string,
  method: "GET" | "DELETE" | "POST",
  local: Local,
  sdpOf?: (c: Context) => Promise<string | Response>,
) {
  return async (c: Context): Promise<Response> => {
    const id = c.req.param("id") ?? "";
    const route = pool.resolve(id);
    if (!route) return sessionNotFound();
    const sdp = sdpOf ? await sdpOf(c) : undefined;
    if (sdp instanceof Response) return sdp;
    if ("remote" in route)
      return c.req.header(FORWARDED)
        ? sessionNotFound()
        : forwardToHost(method, route.remote, id, token, sdp);
    return local(route.local, c, sdp);
  };
}

async function readRestartOffer(c: Context): Promise<string | Response> {
  const text = await c.req.text();
  if ((c.req.header("content-type") ?? "").startsWith("application/sdp")) return text;
  const json = parseBoundedJson(text);
  const sdp = RestartBody.safeParse(json.ok ? json.value : undefined).data?.sdp;
  return sdp ?? apiError(400, "invalid_offer", "no SDP offer in the body");
}

export function sessionRoutes(pool: TransceiverPool, token: string) {
  return {
    get: perSession(pool, token, "GET", async (local, c) => {
      const s = await pool.getSession(local);
      return s ? c.json(s) : sessionNotFound();
    }),
    // ICE restart: the client's re-offer (new ICE credentials); the answer carries a new ufrag, and the
    // old one stays routable until the session ends.
    restart: perSession(
      pool,
      token,
      "POST",
      async (local, c, sdp) => {
        try {
          const restarted = await pool.restartSession(local, sdp!);
          return restarted ? c.json(restarted) : sessionNotFound();
        } catch (err) {
          const answer = sessionFailure(err);
          if (answer) return answer;
          throw err;
        }
      },
      readRestartOffer,
    ),
    end: perSession(pool, token, "DELETE", async (local, c) =>
      (await pool.endSession(local)) ? c.body(null, 204) : sessionNotFound(),
    ),
  };
}
