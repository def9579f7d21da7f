/**
 * The call a request names by its call id (`/v1/realtime/calls/{call_id}/...`, or GPT-Live's
 * session id, which is a call id): authenticated (it names the cluster and session), and allowed
 * for the key that created the call and, if that was an ephemeral key, for the API key that
 * minted it.
 */
import { equalBytes } from "../../shared/signed-token.ts";
import type { AppContext } from "../app-env.ts";
import { authenticate } from "../auth/authenticate.ts";
import { openCallId } from "../auth/call-id.ts";
import { fingerprintsOf } from "../auth/fingerprint.ts";
import type { Pool } from "../config/schema.ts";
import { ApiError } from "../http/errors.ts";

export interface OwnedCall {
  pool: Pool;
  /** The transceiver's session id. */
  session: string;
  /** What a 404 for this call says. */
  notFound(): ApiError;
}

export async function ownedCall(c: AppContext): Promise<OwnedCall> {
  const rt = c.get("runtime");
  const principal = await authenticate(c.req.header("authorization"), {
    apiKeys: rt.apiKeys,
    ring: rt.ring,
    nowMs: Date.now(),
    ephemeral: true,
    // Calls outlive the ephemeral key that created them; the key still proves who created the call.
    allowExpired: true,
  });
  const param = c.req.param("call_id") === undefined ? "session_id" : "call_id";
  const callId = c.req.param(param) ?? "";
  const notFound = () => callNotFound(callId, param);
  const opened = await openCallId(rt.ring, callId);
  const pool = opened.ok ? rt.config.pools.find((p) => p.id === opened.route.cluster) : undefined;
  if (!opened.ok || !pool) throw notFound();
  const { route } = opened;

  const mine = await fingerprintsOf(rt.ring, principal.secret);
  const isCreator = mine.some((fp) => equalBytes(fp, route.creator));
  const isOwner = principal.kind === "api" && mine.some((fp) => equalBytes(fp, route.owner));
  if (!isCreator && !isOwner) {
    throw new ApiError(
      403,
      "This key did not create the call and does not own the key that did.",
      "forbidden",
    );
  }
  return { pool, session: route.session, notFound };
}

export function callNotFound(callId: string, param: string): ApiError {
  const shown = callId.length > 24 ? `${callId.slice(0, 24)}…` : callId;
  const what = param === "call_id" ? "Call" : "Session";
  return new ApiError(
    404,
    `${what} '${shown}' not found.`,
    param === "call_id" ? "call_not_found" : "session_not_found",
    {
      param,
    },
  );
}
