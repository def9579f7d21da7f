/** Errors of the session API in the Realtime API's shape, and what session failures map to. */
import { apiError } from "../../runtime/api-error.ts";
import { BackendError } from "../bridge/backends.ts";
import { CapacityError, OfferError } from "../session-host.ts";

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
