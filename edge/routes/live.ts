/**
 * GPT-Live over WebRTC: POST /v1/live/sessions takes the app server's offer
 * (with its project API key: Live issues no ephemeral keys) and answers
 * {"session": {"id"}, "transport": {"type": "webrtc", "sdp": "<answer>"}}, on
 * the same steering, failover and sessions as Realtime calls. The session id is
 * a call id, so hangup and the sideband find the call the same way.
 */

import type { AppContext } from "../app-env.ts";
import { authenticate } from "../auth/authenticate.ts";
import { readLiveOffer } from "../calls/live-offer.ts";
import { failure, mintCall, steerAndForward } from "./calls.ts";

export async function createLiveSession(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const { config } = rt;
  const principal = await authenticate(c.req.header("authorization"), {
    apiKeys: rt.apiKeys,
    ring: rt.ring,
    nowMs: Date.now(),
    ephemeral: false,
  });
  const offer = await readLiveOffer(c.req.raw, config.limits.max_body_bytes, config.limits.max_session_bytes);
  const result = await steerAndForward(c, rt, { principal, ...offer });
  const attemptsHeader = { "x-voice-edge-attempts": String(result.attempts.length) };
  if (result.kind !== "created") throw failure(result, config.forwarding.retry_after_seconds, attemptsHeader);
  const call = await mintCall(c, rt, principal, result);
  return c.json({ session: { id: call.id }, transport: { type: "webrtc", sdp: result.session.sdp } }, 200, {
    ...call.headers,
    ...attemptsHeader,
  });
}
