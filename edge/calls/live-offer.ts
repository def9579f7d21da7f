/**
 * The body of GPT-Live's POST /v1/live/sessions:
 * {"session": {"model": …, …}, "transport": {"type": "webrtc", "sdp": "<offer>"}}.
 * GPT-Live has no ephemeral keys and no raw-SDP form; the session config is required.
 */

import { checkOffer } from "../../shared/offer.ts";
import { readJsonObject } from "../http/body.ts";
import { ApiError, invalidOffer } from "../http/errors.ts";
import { assertSessionSize } from "./offer.ts";

export interface LiveOffer {
  sdp: string;
  /** The session config as the transceiver gets it: `type: "live"` selects Live's event dialect. */
  session: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const missing = (param: string) =>
  new ApiError(400, `Missing required parameter: '${param}'.`, "missing_required_parameter", { param });

export async function readLiveOffer(
  req: Request,
  limit: number,
  maxSessionBytes: number,
): Promise<LiveOffer> {
  const body = await readJsonObject(req, limit);
  const { session, transport } = body;
  if (transport === undefined) throw missing("transport");
  if (!isObject(transport))
    throw new ApiError(400, "'transport' must be an object.", "invalid_type", { param: "transport" });
  if (transport.type !== "webrtc") {
    throw new ApiError(400, "Only transport type 'webrtc' is served here.", "invalid_value", {
      param: "transport.type",
    });
  }
  if (typeof transport.sdp !== "string") throw missing("transport.sdp");
  const check = checkOffer(transport.sdp);
  if (!check.ok) throw invalidOffer(check.reason, "transport.sdp");
  if (session === undefined) throw missing("session");
  if (!isObject(session))
    throw new ApiError(400, "'session' must be an object.", "invalid_type", { param: "session" });
  if (typeof session.model !== "string" || session.model === "") throw missing("session.model");
  const config = { ...session, type: "live" };
  assertSessionSize(config, maxSessionBytes);
  return { sdp: check.sdp, session: config };
}
