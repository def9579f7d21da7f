/**
 * POST /v1/realtime/calls (and the beta POST /v1/realtime?model=…): take the
 * offer, pick clusters by proximity and health, forward with failover, and
 * answer 201 with the SDP answer and Location: /v1/realtime/calls/{call_id}.
 */

import { decodeBase64Url } from "../../shared/base64.ts";
import type { AppContext } from "../app-env.ts";
import { authenticate, type Principal } from "../auth/authenticate.ts";
import { mintCallId } from "../auth/call-id.ts";
import { fingerprint } from "../auth/fingerprint.ts";
import { type AttemptRecord, type ForwardResult, forwardCall } from "../calls/forward.ts";
import { mergeSession, readOffer } from "../calls/offer.ts";
import { availabilityOf } from "../health/policy.ts";
import type { ForwardReport } from "../health/state.ts";
import { readHealth, reportForwards } from "../health/store.ts";
import { type ApiError, unavailable } from "../http/errors.ts";
import type { Runtime } from "../runtime.ts";
import { type CfLocation, locateCaller } from "../steering/locate.ts";
import { type Availability, planAttempts } from "../steering/plan.ts";

export async function createCall(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  const request = await readCall(c, rt);
  const result = await steerAndForward(c, rt, request);
  const attemptsHeader = { "x-voice-edge-attempts": String(result.attempts.length) };
  if (result.kind !== "created")
    throw failure(result, rt.config.forwarding.retry_after_seconds, attemptsHeader);
  return answer(c, rt, request.principal, result, attemptsHeader);
}

export interface CallRequest {
  principal: Principal;
  sdp: string;
  session: Record<string, unknown> | undefined;
}

/** Who calls, with which offer, and the session the transceiver gets (key's, offer's, ?model=). */
async function readCall(c: AppContext, rt: Runtime): Promise<CallRequest> {
  const { config, ring } = rt;
  const principal = await authenticate(c.req.header("authorization"), {
    apiKeys: rt.apiKeys,
    ring,
    nowMs: Date.now(),
    ephemeral: true,
  });
  const offer = await readOffer(c.req.raw, config.limits.max_body_bytes);
  const model = c.req.query("model");
  const session = mergeSession(
    [
      principal.kind === "ephemeral" ? principal.claims.ses : undefined,
      offer.session,
      model ? { model } : undefined,
    ],
    config.limits.max_session_bytes,
  );
  return { principal, sdp: offer.sdp, session };
}

/** Plans clusters by proximity and health, forwards with failover, and reports what it saw. */
export async function steerAndForward(
  c: AppContext,
  rt: Runtime,
  request: CallRequest,
): Promise<ForwardResult> {
  const { config } = rt;
  const caller = locateCaller(c.req.raw.cf as CfLocation | undefined);
  const health = await readHealth(c.env, config.forwarding.health_cache_ms);
  const now = Date.now();
  const plan = planAttempts(config, (p) => availabilityOf(health[p.id], now), caller);
  const result = await forwardCall(
    plan,
    { sdp: request.sdp, session: request.session },
    {
      fetch: (input, init) => fetch(input, init),
      token: rt.transceiverToken,
      forwarding: config.forwarding,
    },
  );
  // Awaited: reports exist only on the unusual paths (a failure, or a suspect pool that worked), and
  // the next call must already see them.
  await reportForwards(
    c.env,
    passiveReports(result.attempts, (pool) => availabilityOf(health[pool], now)),
    config.forwarding.suspect_seconds * 1000,
  );
  console.log(
    JSON.stringify({
      event: "call",
      request_id: c.get("requestId"),
      located_by: caller?.source ?? null,
      result: result.kind,
      attempts: result.attempts,
    }),
  );
  return result;
}

/** The error for a call no cluster created: the transceiver's rejection, or 503 with Retry-After. */
export function failure(
  result: Exclude<ForwardResult, { kind: "created" }>,
  defaultRetry: number,
  headers: Record<string, string>,
): ApiError {
  let err: ApiError;
  if (result.kind === "rejected") err = result.error;
  else {
    const retry = result.retryAfter ?? defaultRetry;
    err = result.allFull
      ? unavailable("Every nearby cluster is at capacity. Retry later.", "capacity_exceeded", retry)
      : result.backendUnavailable !== null
        ? unavailable(
            `The voice model behind the edge could not take the call (${result.backendUnavailable}). Retry later.`,
            "backend_unavailable",
            retry,
          )
        : unavailable("No healthy cluster could take the call. Retry later.", "no_healthy_cluster", retry);
  }
  Object.assign(err.headers, headers);
  return err;
}

/** 201 with the SDP answer and the call id (naming cluster, session and keys) in Location. */
async function answer(
  c: AppContext,
  rt: Runtime,
  principal: Principal,
  result: Extract<ForwardResult, { kind: "created" }>,
  headers: Record<string, string>,
): Promise<Response> {
  const call = await mintCall(c, rt, principal, result);
  return new Response(result.session.sdp, {
    status: 201,
    headers: {
      "content-type": "application/sdp",
      location: `/v1/realtime/calls/${call.id}`,
      ...call.headers,
      ...headers,
    },
  });
}

/** The call id of a created session (naming cluster, session and keys), and where the call landed. */
export async function mintCall(
  c: AppContext,
  rt: Runtime,
  principal: Principal,
  result: Extract<ForwardResult, { kind: "created" }>,
): Promise<{ id: string; headers: Record<string, string> }> {
  const { ring } = rt;
  const creator = await fingerprint(ring, ring.current.id, principal.secret);
  const owner = principal.kind === "ephemeral" ? (decodeBase64Url(principal.claims.own) ?? creator) : creator;
  const { attempt, session: created } = result;
  const callId = await mintCallId(ring, {
    cluster: attempt.pool.id,
    session: created.id,
    issuedAt: Math.floor(Date.now() / 1000),
    creator,
    owner,
  });
  // The call id and the transceiver's session id in one line: the transceiver logs the session id.
  console.log(
    JSON.stringify({
      event: "call.created",
      request_id: c.get("requestId"),
      call_id: callId,
      session: created.id,
      cluster: attempt.pool.id,
      ingress: attempt.ingress.id,
    }),
  );
  return {
    id: callId,
    headers: {
      "x-voice-edge-cluster": String(attempt.pool.id),
      "x-voice-edge-region": attempt.pool.region,
      "x-voice-edge-ingress": attempt.ingress.id,
      "x-voice-edge-ingress-address": created.ingress,
    },
  };
}

/**
 * Transport failures make a pool suspect at once; a success clears a pool that was not ready (the
 * common case, a ready pool that worked, needs no write). Rejections and error answers say nothing
 * about health: one request's content must never take a pool out of rotation for everyone.
 */
function passiveReports(
  attempts: AttemptRecord[],
  availability: (pool: number) => Availability,
): ForwardReport[] {
  const out: ForwardReport[] = [];
  for (const a of attempts) {
    if (a.outcome === "created") {
      if (availability(a.pool) !== "ready") out.push({ pool: a.pool, outcome: { kind: "ok" } });
    } else if (a.outcome === "full") out.push({ pool: a.pool, outcome: { kind: "full" } });
    else if (a.outcome === "failed" || a.outcome === "timeout")
      out.push({ pool: a.pool, outcome: { kind: "failed", reason: a.detail ?? a.outcome } });
  }
  return out;
}
