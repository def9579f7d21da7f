/**
 * Restart backoff for a process that keeps dying: the delay doubles per crash
 * within the window, from base to max, so a crash loop costs little CPU and a
 * rare crash is repaired at once. Plain data in, a delay out (no timers).
 */
export interface Backoff {
  baseMs: number;
  maxMs: number;
  windowMs: number;
}

export const RESTART_BACKOFF: Backoff = { baseMs: 100, maxMs: 5000, windowMs: 60_000 };

/** Records a crash at `now` in `crashes` (pruned in place) and returns how long to wait before restarting. */
export function nextRestartDelay(crashes: number[], now: number, b: Backoff = RESTART_BACKOFF): number {
  const recent = crashes.filter((t) => now - t < b.windowMs);
  recent.push(now);
  crashes.splice(0, crashes.length, ...recent);
  return Math.min(b.maxMs, b.baseMs * 2 ** (recent.length - 1));
}
