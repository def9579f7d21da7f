/**
 * The sideband of a live call: `GET /v1/realtime?call_id=rtc_…` (Realtime) and
 * `GET /v1/live/sessions/{session_id}/attach` (GPT-Live), WebSocket upgrades
 * from the app's server. The call id names the cluster and the session
 * (authenticated, like hangup's), so the Worker proxies the socket straight to
 * the owning transceiver: no lookup, and no state here once it is open.
 *
 * Only server API keys attach (as `Authorization: Bearer` or, for clients that
 * cannot set headers, the `openai-insecure-api-key.<key>` subprotocol), and only
 * to calls they own: their own, or those of an ephemeral key they minted. A
 * call that is not found, not this edge's, not the key's, or over is a 404.
 */

import { equalBytes } from "../../shared/signed-token.ts";
import type { AppContext } from "../app-env.ts";
import { authenticate } from "../auth/authenticate.ts";
import { openCallId } from "../auth/call-id.ts";
import { EPHEMERAL_PREFIX } from "../auth/ephemeral-key.ts";
import { fingerprintsOf } from "../auth/fingerprint.ts";
import { readProtocols } from "../auth/subprotocol.ts";
import { openSideband } from "../calls/transceiver.ts";
import { ApiError } from "../http/errors.ts";
import { callNotFound } from "./owned-call.ts";

export async function attachSideband(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const live = c.req.param("session_id") !== undefined;
  const param = live ? "session_id" : "call_id";
  const callId = (live ? c.req.param("session_id") : c.req.query("call_id")) ?? "";
  if (!live && !callId)
    throw new ApiError(
      400,
      "This edge serves GET /v1/realtime only as the sideband of a WebRTC call: pass ?call_id=rtc_….",
      "missing_required_parameter",
      { param: "call_id" },
    );
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket")
    throw new ApiError(
      426,
      "The sideband is a WebSocket: send an Upgrade: websocket request.",
      "upgrade_required",
      {
        headers: { upgrade: "websocket" },
      },
    );

  const offered = readProtocols(c.req.header("sec-websocket-protocol"));
  const header = c.req.header("authorization") ?? (offered.key ? `Bearer ${offered.key}` : undefined);
  if (header === undefined)
    throw new ApiError(
      401,
      "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or as the WebSocket subprotocol 'openai-insecure-api-key.<key>'.",
      "missing_api_key",
    );
  if (/^Bearer[ \t]+ek_/i.test(header))
    throw new ApiError(
      401,
      `The sideband takes a server API key; ephemeral keys (${EPHEMERAL_PREFIX}…) are for the client's own connection.`,
      "invalid_api_key",
    );
  const principal = await authenticate(header, {
    apiKeys: rt.apiKeys,
    ring: rt.ring,
    nowMs: Date.now(),
    ephemeral: false,
  });

  const opened = await openCallId(rt.ring, callId);
  const pool = opened.ok ? rt.config.pools.find((p) => p.id === opened.route.cluster) : undefined;
  if (!opened.ok || !pool) throw callNotFound(callId, param);
  const mine = await fingerprintsOf(rt.ring, principal.secret);
  // Another key's call is not shown to exist, as for another project's call.
  if (!mine.some((fp) => equalBytes(fp, opened.route.owner))) throw callNotFound(callId, param);

  const r = await openSideband(
    (input, init) => fetch(input, init),
    pool,
    opened.route.session,
    rt.transceiverToken,
    offered.realtime,
    rt.config.forwarding.attempt_timeout_ms,
  );
  switch (r.kind) {
    case "open":
      console.log(
        JSON.stringify({
          event: "sideband.attached",
          request_id: c.get("requestId"),
          call_id: callId,
          session: opened.route.session,
          cluster: pool.id,
        }),
      );
      return r.response;
    case "not-found":
      throw callNotFound(callId, param);
    case "refused":
      throw new ApiError(r.status, r.message, r.code);
    case "failed":
      throw new ApiError(
        502,
        `The cluster owning the call did not open the sideband (${r.reason}).`,
        "cluster_unreachable",
      );
  }
}
