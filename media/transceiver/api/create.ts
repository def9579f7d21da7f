/** POST /v1/sessions: a new session from a client's offer (JSON envelope or raw application/sdp). */
import type { Context } from "hono";
import { parseEndpoint } from "../../../shared/ip.ts";
import { MAX_JSON_DEPTH, parseBoundedJson } from "../../../shared/json-bounds.ts";
import { CreateSessionBody } from "../../../shared/session-api.ts";
import { apiError } from "../../runtime/api-error.ts";
import type { TransceiverPool } from "../pool.ts";
import { sessionFailure } from "./errors.ts";

export function createSessionRoute(pool: TransceiverPool) {
  return async (c: Context): Promise<Response> => {
    let body: CreateSessionBody;
    if ((c.req.header("content-type") ?? "").startsWith("application/sdp")) {
      body = {
        sdp: await c.req.text(),
        ingress: c.req.query("ingress"),
        ingress_tcp: c.req.query("ingress_tcp"),
        tcp_only: c.req.query("tcp_only") === "true" || undefined,
      };
    } else {
      const json = parseBoundedJson(await c.req.text());
      if (!json.ok && json.reason === "depth")
        return apiError(400, "invalid_request", `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
      const parsed = CreateSessionBody.safeParse(json.ok ? json.value : undefined);
      if (!parsed.success)
        return apiError(400, "invalid_request", "body must be JSON {sdp, ingress?, session?, call_id?}");
      body = parsed.data;
    }
    let ingress: { address: string; port: number } | undefined;
    if (body.ingress !== undefined) {
      ingress = parseEndpoint(body.ingress);
      if (!ingress) return apiError(400, "invalid_ingress", `ingress "${body.ingress}" is not ip:port`);
    }
    let ingressTcp: { address: string; port: number } | undefined;
    if (body.ingress_tcp !== undefined) {
      ingressTcp = parseEndpoint(body.ingress_tcp);
      if (!ingressTcp)
        return apiError(400, "invalid_ingress", `ingress_tcp "${body.ingress_tcp}" is not ip:port`);
    }
    try {
      const created = await pool.createSession({
        sdp: body.sdp,
        ingress,
        ingressTcp,
        tcpOnly: body.tcp_only,
        session: body.session,
        callId: body.call_id,
      });
      return c.json(created, 201);
    } catch (err) {
      const answer = sessionFailure(err);
      if (answer) return answer;
      throw err;
    }
  };
}
