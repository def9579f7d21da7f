/**
 * The wait of a drain: poll what is still active until nothing is or the
 * deadline passes. One loop for every component that drains (relay flows,
 * transceiver sessions); what counts as active is the caller's.
 */

export interface DrainWait {
  /** What was still active when the wait ended. */
  remaining: number;
  timedOut: boolean;
}

export async function waitDrained(
  active: () => number,
  o: { timeoutMs: number; pollMs: number; now?: () => number; sleep?: (ms: number) => Promise<void> },
): Promise<DrainWait> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + Math.max(0, o.timeoutMs);
  let n = active();
  while (n > 0 && now() < deadline) {
    await sleep(Math.min(o.pollMs, Math.max(1, deadline - now())));
    n = active();
  }
  return { remaining: n, timedOut: n > 0 };
}
