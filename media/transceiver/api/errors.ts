/** Errors of the session API in the Realtime API's shape, and what session failures map to. */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { BackendError } from "../bridge/backends.ts";
import { CapacityError, OfferError } from "../session-host.ts";

export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  type = status >= 500 ? "server_error" : "invalid_request_error",
): Response {
  return Response.json({ error: { message, type, param: null, code } }, { status });
}

export const sessionNotFound = (): Response => apiError(404, "session_not_found", "no such session");

/** A failure of creating or restarting a session as an answer, or undefined if it is a bug. */
export function sessionFailure(err: unknown): Response | undefined {
  if (err instanceof OfferError) return apiError(400, "invalid_offer", err.message);
  if (err instanceof BackendError) return retryable(apiError(err.status, err.code, err.message));
  if (err instanceof CapacityError) return retryable(apiError(503, "capacity_exceeded", err.message));
  return undefined;
}

function retryable(r: Response): Response {
  if (r.status === 503) r.headers.set("Retry-After", "1");
  return r;
}
