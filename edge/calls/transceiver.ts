/**
 * Client for a cluster's internal session API (the contract: shared/session-api.ts):
 * create, restart (ICE) and delete sessions. Responses are sorted into what the forwarding loop needs to decide: done,
 * the caller's fault (stop), this cluster is full, or this cluster failed (next).
 */
import {
  CreatedSession,
  type CreateSessionBody,
  ErrorBody,
  SESSIONS_PATH,
  sessionPath,
  sidebandPath,
} from "../../shared/session-api.ts";
import type { Pool } from "../config/schema.ts";
import { joinUrl } from "../health/probe.ts";
import { ApiError } from "../http/errors.ts";
import { withTimeout } from "./timeout.ts";

export type SessionRequest = CreateSessionBody & { ingress: string };

export type CreateOutcome =
  | { kind: "created"; session: CreatedSession }
  /** The offer's fault (400, 413, …): another cluster would say the same. */
  | { kind: "rejected"; error: ApiError }
  | { kind: "full"; retryAfter: number | null }
  /** Not reached in time or at all: a transport failure, which counts against the pool's health. */
  | { kind: "failed"; reason: string; timedOut?: boolean }
  /**
   * Answered, but with an error that is not the offer's fault (5xx, a token or route mismatch, a
   * malformed answer): try the next cluster, but do not hold one request's outcome against the pool.
   */
  | {
      kind: "error";
      reason: string;
      /** The transceiver's message when its AI backend could not take the session (503 backend_unavailable). */
      backend?: string;
    };

export async function createSession(
  fetcher: typeof fetch,
  pool: Pool,
  req: SessionRequest,
  token: string | undefined,
  timeoutMs: number,
): Promise<CreateOutcome> {
  const r = await withTimeout(timeoutMs, async (signal) => {
    const res = await fetcher(joinUrl(pool.endpoint, SESSIONS_PATH), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...auth(token) },
      body: JSON.stringify(req),
      signal,
    });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
  });
  if (!r.ok) {
    return r.timedOut
      ? { kind: "failed", reason: `timeout after ${timeoutMs} ms`, timedOut: true }
      : { kind: "failed", reason: `unreachable: ${r.error}` };
  }
  return classifyCreate(r.value.status, r.value.retryAfter, r.value.text);
}

export function classifyCreate(status: number, retryAfter: string | null, text: string): CreateOutcome {
  const body = parseJson(text);
  if (status === 201 || status === 200) {
    const created = CreatedSession.safeParse(body);
    return created.success
      ? { kind: "created", session: created.data }
      : { kind: "error", reason: "malformed answer" };
  }
  const err = upstreamError(body);
  if (status === 503 || status === 429) {
    if (status === 503 && err?.code === "backend_unavailable")
      return {
        kind: "error",
        reason: "HTTP 503 backend_unavailable",
        backend: err.message ?? "the voice backend is unavailable",
      };
    if (status === 503 && err?.code !== "capacity_exceeded")
      return { kind: "error", reason: `HTTP ${status}` };
    // Delta-seconds only; an HTTP-date (rare from our own transceivers) falls back to the configured value.
    const seconds = retryAfter !== null && /^\s*\d+\s*$/.test(retryAfter) ? Number(retryAfter) : null;
    return { kind: "full", retryAfter: seconds };
  }
  if (status === 413) {
    return {
      kind: "rejected",
      error: new ApiError(413, err?.message ?? "The SDP offer is too large.", "request_too_large"),
    };
  }
  // Only a bad offer is the caller's fault. Any other 4xx (wrong token, unknown route, a request
  // the transceiver calls invalid) says this cluster and this edge disagree: try the next one.
  if (status === 400 && err?.code === "invalid_offer") {
    return {
      kind: "rejected",
      error: new ApiError(400, err.message ?? "The SDP offer is invalid.", "invalid_offer"),
    };
  }
  return { kind: "error", reason: err?.code ? `HTTP ${status} ${err.code}` : `HTTP ${status}` };
}

export type DeleteOutcome = { kind: "deleted" } | { kind: "not-found" } | { kind: "failed"; reason: string };

export async function deleteSession(
  fetcher: typeof fetch,
  pool: Pool,
  id: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<DeleteOutcome> {
  const r = await withTimeout(timeoutMs, async (signal) => {
    const res = await fetcher(joinUrl(pool.endpoint, sessionPath(id)), {
      method: "DELETE",
      headers: auth(token),
      signal,
    });
    await res.body?.cancel();
    return res.status;
  });
  if (!r.ok) return { kind: "failed", reason: r.timedOut ? "timeout" : `unreachable: ${r.error}` };
  if (r.value === 204 || r.value === 200) return { kind: "deleted" };
  if (r.value === 404) return { kind: "not-found" };
  return { kind: "failed", reason: `HTTP ${r.value}` };
}

export type SidebandOutcome =
  /** The transceiver took the WebSocket: hand this response (101, its socket) to the client. */
  | { kind: "open"; response: Response }
  /** The session is not (or no longer) there, or its host is gone. */
  | { kind: "not-found" }
  /** The transceiver refused for a reason the caller should see (409: sideband_limit, no_events). */
  | { kind: "refused"; status: number; code: string; message: string }
  | { kind: "failed"; reason: string };

/**
 * Opens the sideband WebSocket on the transceiver owning the session (a Worker proxies a WebSocket
 * by fetching the origin with `Upgrade: websocket` and returning its 101). `realtime`: offer the
 * `realtime` subprotocol the client offered, so the answer names it.
 */
export async function openSideband(
  fetcher: typeof fetch,
  pool: Pool,
  id: string,
  token: string,
  realtime: boolean,
  timeoutMs: number,
): Promise<SidebandOutcome> {
  const headers: Record<string, string> = { upgrade: "websocket", authorization: `Bearer ${token}` };
  if (realtime) headers["sec-websocket-protocol"] = "realtime";
  const r = await withTimeout(timeoutMs, async (signal) => {
    const res = await fetcher(joinUrl(pool.endpoint, sidebandPath(id)), { headers, signal });
    if (res.status === 101) return { res, text: "" };
    return { res, text: await res.text() };
  });
  // A host that does not answer took its sessions with it: nothing else holds the call.
  if (!r.ok) return { kind: "not-found" };
  const { res, text } = r.value;
  if (res.status === 101) return { kind: "open", response: res };
  if (res.status === 404) return { kind: "not-found" };
  const err = upstreamError(parseJson(text));
  if (res.status === 409 && err?.code)
    return { kind: "refused", status: 409, code: err.code, message: err.message ?? "refused" };
  return { kind: "failed", reason: err?.code ? `HTTP ${res.status} ${err.code}` : `HTTP ${res.status}` };
}

export type RestartOutcome =
  | { kind: "answered"; session: CreatedSession }
  | { kind: "not-found" }
  /** The offer's fault. */
  | { kind: "rejected"; error: ApiError }
  | { kind: "failed"; reason: string };

/** ICE restart: a new offer for a live session (`POST /v1/sessions/{id}/offer`). */
export async function restartSession(
  fetcher: typeof fetch,
  pool: Pool,
  id: string,
  sdp: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<RestartOutcome> {
  const r = await withTimeout(timeoutMs, async (signal) => {
    const res = await fetcher(joinUrl(pool.endpoint, sessionPath(id, true)), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...auth(token) },
      body: JSON.stringify({ sdp }),
      signal,
    });
    return { status: res.status, text: await res.text() };
  });
  if (!r.ok) return { kind: "failed", reason: r.timedOut ? "timeout" : `unreachable: ${r.error}` };
  const { status, text } = r.value;
  if (status === 404) return { kind: "not-found" };
  const outcome = classifyCreate(status, null, text);
  if (outcome.kind === "created") return { kind: "answered", session: outcome.session };
  if (outcome.kind === "rejected") return outcome;
  return { kind: "failed", reason: outcome.kind === "full" ? "HTTP 503" : outcome.reason };
}

function auth(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function upstreamError(body: unknown): { message?: string; code?: string } | undefined {
  const e = ErrorBody.safeParse(body);
  return e.success ? { message: e.data.error.message, code: e.data.error.code ?? undefined } : undefined;
}
