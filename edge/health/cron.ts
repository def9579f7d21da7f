/**
 * The Cron Trigger: probe every enabled pool whose monitor interval has
 * elapsed, concurrently, and hand the results to the health Durable Object.
 */
import type { Env } from "../env.ts";
import { loadRuntime } from "../runtime.ts";
import { isProbeDue } from "./policy.ts";
import { probePool } from "./probe.ts";
import type { HealthSnapshot, ProbeReport } from "./state.ts";
import { healthStub } from "./store.ts";

export async function runHealthChecks(env: Env, now: number): Promise<HealthSnapshot | undefined> {
  const loaded = loadRuntime(env);
  if (!loaded.ok) return undefined; // loadRuntime logged the problems
  const { config, transceiverToken } = loaded.runtime;
  const stub = healthStub(env);
  const before = (await stub.snapshot()) as HealthSnapshot;
  const monitors = new Map(config.monitors.map((m) => [m.id, m]));
  const due = config.pools
    .filter((p) => p.enabled)
    .map((pool) => ({ pool, monitor: monitors.get(pool.monitor ?? config.monitors[0]!.id)! }))
    .filter(({ pool, monitor }) => isProbeDue(before[pool.id], monitor.interval, now));
  if (due.length === 0) return before;
  const fetcher: typeof fetch = (input, init) => fetch(input, init);
  const reports: ProbeReport[] = await Promise.all(
    due.map(async ({ pool, monitor }) => ({
      pool: pool.id,
      probe: await probePool(fetcher, pool, monitor, transceiverToken),
      thresholds: { consecutive_up: monitor.consecutive_up, consecutive_down: monitor.consecutive_down },
    })),
  );
  const after = (await stub.recordProbes(reports, now)) as HealthSnapshot;
  for (const r of reports) {
    const was = before[r.pool]?.healthy ?? true;
    const is = after[r.pool]?.healthy ?? true;
    if (was !== is) console.log(`voice-edge: pool ${r.pool} is now ${is ? "healthy" : "unhealthy"}`);
  }
  return after;
}
