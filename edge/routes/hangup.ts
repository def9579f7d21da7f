/**
 * POST /v1/realtime/calls/{call_id}/hangup (and GPT-Live's
 * /v1/live/sessions/{session_id}/hangup, whose ids are call ids): the call id names the cluster
 * and session (authenticated), so the edge goes straight to the owning
 * transceiver. Allowed for the key that created the call and, if that was
 * an ephemeral key, for the API key that minted it.
 */

import type { AppContext } from "../app-env.ts";
import { deleteSession } from "../calls/transceiver.ts";
import { ApiError } from "../http/errors.ts";
import { ownedCall } from "./owned-call.ts";

export async function hangupCall(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const call = await ownedCall(c);
  const r = await deleteSession(
    (input, init) => fetch(input, init),
    call.pool,
    call.session,
    rt.transceiverToken,
    rt.config.forwarding.attempt_timeout_ms,
  );
  if (r.kind === "not-found") throw call.notFound();
  if (r.kind === "failed") {
    throw new ApiError(
      502,
      `The cluster owning the call did not answer (${r.reason}).`,
      "cluster_unreachable",
    );
  }
  return new Response(null, { status: 200, headers: { "x-voice-edge-cluster": String(call.pool.id) } });
}
