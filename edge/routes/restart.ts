/**
 * POST /v1/realtime/calls/{call_id} with a new SDP offer: an ICE restart of a
 * live call (a voice-edge extension: OpenAI's Realtime API has no such
 * route). What a browser sends after a network change (`pc.restartIce()`,
 * then a new offer with new ICE credentials): the call id names the cluster
 * and session, the owning transceiver answers with a new server ufrag (a new
 * routing hint for the same worker), and the call goes on. 200 with the SDP
 * answer; the same keys may restart a call as may hang it up.
 */
import type { AppContext } from "../app-env.ts";
import { readOffer } from "../calls/offer.ts";
import { restartSession } from "../calls/transceiver.ts";
import { ApiError } from "../http/errors.ts";
import { ownedCall } from "./owned-call.ts";

export async function restartCall(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const call = await ownedCall(c);
  const offer = await readOffer(c.req.raw, rt.config.limits.max_body_bytes);
  const r = await restartSession(
    (input, init) => fetch(input, init),
    call.pool,
    call.session,
    offer.sdp,
    rt.transceiverToken,
    rt.config.forwarding.attempt_timeout_ms,
  );
  if (r.kind === "not-found") throw call.notFound();
  if (r.kind === "rejected") throw r.error;
  if (r.kind === "failed") {
    throw new ApiError(
      502,
      `The cluster owning the call did not answer (${r.reason}).`,
      "cluster_unreachable",
    );
  }
  return new Response(r.session.sdp, {
    status: 200,
    headers: { "content-type": "application/sdp", "x-voice-edge-cluster": String(call.pool.id) },
  });
}
