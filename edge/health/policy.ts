/**
 * Pool health as a small state machine, pure so it is tested without a
 * Durable Object. Active health: monitor probes flip a pool after
 * consecutive_down failures and back after consecutive_up successes. Passive
 * health: a failed forward makes the pool suspect at once, for
 * suspect_seconds or until a probe or a forward succeeds.
 */
import type { Availability } from "../steering/plan.ts";

export interface PoolHealth {
  healthy: boolean;
  consecutive_up: number;
  consecutive_down: number;
  /** The last probe said the cluster is at capacity. */
  full: boolean;
  /** The last probe said the cluster is draining (no new sessions). */
  draining: boolean;
  /** Epoch ms until which the pool is suspect (passive health); 0 when not. */
  suspect_until: number;
  suspect_reason: string | null;
  last_probe_at: number | null;
  last_error: string | null;
  sessions: number | null;
  capacity: number | null;
  /** Epoch ms of the last healthy <-> unhealthy flip. */
  changed_at: number | null;
}

export type ProbeOutcome =
  | { kind: "up"; full: boolean; sessions: number | null; capacity: number | null }
  | { kind: "draining" }
  | { kind: "down"; error: string };

export type ForwardOutcome = { kind: "ok" } | { kind: "failed"; reason: string } | { kind: "full" };

export interface Thresholds {
  consecutive_up: number;
  consecutive_down: number;
}

/** A pool nobody has probed yet counts as healthy: the first probes or forwards correct that. */
export function initialHealth(): PoolHealth {
  return {
    healthy: true,
    consecutive_up: 0,
    consecutive_down: 0,
    full: false,
    draining: false,
    suspect_until: 0,
    suspect_reason: null,
    last_probe_at: null,
    last_error: null,
    sessions: null,
    capacity: null,
    changed_at: null,
  };
}

export function applyProbe(
  prev: PoolHealth | undefined,
  probe: ProbeOutcome,
  t: Thresholds,
  now: number,
): PoolHealth {
  const h = { ...(prev ?? initialHealth()), last_probe_at: now };
  if (probe.kind === "down") {
    h.consecutive_down += 1;
    h.consecutive_up = 0;
    h.last_error = probe.error;
    if (h.healthy && h.consecutive_down >= t.consecutive_down) {
      h.healthy = false;
      h.changed_at = now;
    }
    return h;
  }
  // Up or draining: the cluster answers, so liveness counts up and passive suspicion ends.
  h.consecutive_up += 1;
  h.consecutive_down = 0;
  h.last_error = null;
  h.suspect_until = 0;
  h.suspect_reason = null;
  h.draining = probe.kind === "draining";
  h.full = probe.kind === "up" && probe.full;
  if (probe.kind === "up") {
    h.sessions = probe.sessions;
    h.capacity = probe.capacity;
  }
  if (!h.healthy && h.consecutive_up >= t.consecutive_up) {
    h.healthy = true;
    h.changed_at = now;
  }
  return h;
}

export function applyForward(
  prev: PoolHealth | undefined,
  outcome: ForwardOutcome,
  suspectMs: number,
  now: number,
): PoolHealth {
  const h = { ...(prev ?? initialHealth()) };
  if (outcome.kind === "ok") {
    h.suspect_until = 0;
    h.suspect_reason = null;
    h.full = false;
  } else {
    h.suspect_until = now + suspectMs;
    h.suspect_reason = outcome.kind === "full" ? "full" : outcome.reason;
  }
  return h;
}

export function availabilityOf(h: PoolHealth | undefined, now: number): Availability {
  if (!h) return "ready";
  if (!h.healthy || h.full || h.draining) return "unavailable";
  return h.suspect_until > now ? "suspect" : "ready";
}

/** Cron jitter allowance: a tick slightly early still probes. */
const DUE_SLACK_MS = 5_000;

export function isProbeDue(h: PoolHealth | undefined, intervalSeconds: number, now: number): boolean {
  return !h || h.last_probe_at === null || now - h.last_probe_at >= intervalSeconds * 1000 - DUE_SLACK_MS;
}
