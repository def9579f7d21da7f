/**
 * Regional failover for one call: try the planned clusters in order until one
 * creates the session, within a per-attempt timeout, an overall deadline and
 * an attempt cap. Connect errors, timeouts, error answers and "full" move on
 * to the next cluster; an offer the transceiver rejects as invalid stops at once.
 */

import type { CreatedSession } from "../../shared/session-api.ts";
import type { Forwarding } from "../config/schema.ts";
import type { ApiError } from "../http/errors.ts";
import type { PlannedAttempt } from "../steering/plan.ts";
import { createSession } from "./transceiver.ts";

export interface AttemptRecord {
  pool: number;
  /** "failed" and "timeout" are transport failures; "error" an error answer (see CreateOutcome). */
  outcome: "created" | "rejected" | "full" | "timeout" | "failed" | "error";
  detail?: string;
  ms: number;
}

export type ForwardResult =
  | { kind: "created"; attempt: PlannedAttempt; session: CreatedSession; attempts: AttemptRecord[] }
  | { kind: "rejected"; error: ApiError; attempts: AttemptRecord[] }
  | {
      kind: "exhausted";
      attempts: AttemptRecord[];
      allFull: boolean;
      retryAfter: number | null;
      /** Every attempt's transceiver was up but its AI backend was not: the last one's message. */
      backendUnavailable: string | null;
    };

export interface ForwardDeps {
  fetch: typeof fetch;
  token: string | undefined;
  forwarding: Forwarding;
  now?: () => number;
}

/** Below this much time left, another attempt could not finish: stop instead. */
const MIN_ATTEMPT_MS = 25;

export async function forwardCall(
  plan: readonly PlannedAttempt[],
  offer: { sdp: string; session?: Record<string, unknown> },
  deps: ForwardDeps,
): Promise<ForwardResult> {
  const now = deps.now ?? Date.now;
  const { attempt_timeout_ms, deadline_ms, max_attempts } = deps.forwarding;
  const start = now();
  const attempts: AttemptRecord[] = [];
  let retryAfter: number | null = null;
  /** Whether every attempt found the transceiver up but its AI backend not, and the last one's message. */
  let allBackend = true;
  let backend: string | null = null;

  for (const attempt of plan.slice(0, max_attempts)) {
    const left = deadline_ms - (now() - start);
    if (left < MIN_ATTEMPT_MS) break;
    const t0 = now();
    const r = await createSession(
      deps.fetch,
      attempt.pool,
      {
        sdp: offer.sdp,
        ingress: attempt.ingress.address,
        ...(attempt.ingress.tcp_address
          ? { ingress_tcp: attempt.ingress.tcp_address, tcp_only: attempt.ingress.tcp_only || undefined }
          : {}),
        ...(offer.session ? { session: offer.session } : {}),
      },
      deps.token,
      Math.min(attempt_timeout_ms, left),
    );
    const ms = now() - t0;
    const pool = attempt.pool.id;
    switch (r.kind) {
      case "created":
        attempts.push({ pool, outcome: "created", ms });
        return { kind: "created", attempt, session: r.session, attempts };
      case "rejected":
        attempts.push({ pool, outcome: "rejected", detail: r.error.message, ms });
        return { kind: "rejected", error: r.error, attempts };
      case "full":
        attempts.push({ pool, outcome: "full", ms });
        if (r.retryAfter !== null)
          retryAfter = retryAfter === null ? r.retryAfter : Math.min(retryAfter, r.retryAfter);
        break;
      case "failed":
        attempts.push({ pool, outcome: r.timedOut ? "timeout" : "failed", detail: r.reason, ms });
        break;
      case "error":
        attempts.push({ pool, outcome: "error", detail: r.reason, ms });
        break;
    }
    const why = r.kind === "error" ? r.backend : undefined;
    if (why === undefined) allBackend = false;
    else backend = why;
  }
  const allFull = attempts.length > 0 && attempts.every((a) => a.outcome === "full");
  return {
    kind: "exhausted",
    attempts,
    allFull,
    retryAfter,
    backendUnavailable: allBackend ? backend : null,
  };
}
