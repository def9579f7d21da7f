/**
 * The single source of truth for pool health, shared by every edge
 * location: one Durable Object (strongly consistent, unlike KV's up to a
 * minute of lag). The cron handler records probes, calls record passive
 * outcomes, and every call reads a snapshot. Rules live in policy.ts.
 */
import { DurableObject } from "cloudflare:workers";
import {
  applyForward,
  applyProbe,
  type ForwardOutcome,
  type PoolHealth,
  type ProbeOutcome,
  type Thresholds,
} from "./policy.ts";

export type HealthSnapshot = Record<string, PoolHealth>;

export interface ProbeReport {
  pool: number;
  probe: ProbeOutcome;
  thresholds: Thresholds;
}

export interface ForwardReport {
  pool: number;
  outcome: ForwardOutcome;
}

const KEY = "pools";

// Reads no bindings: typed without the Worker's Env, which names this class (no import circle).
export class HealthState extends DurableObject<unknown> {
  private pools: HealthSnapshot = {};

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.pools = (await ctx.storage.get<HealthSnapshot>(KEY)) ?? {};
    });
  }

  snapshot(): HealthSnapshot {
    return this.pools;
  }

  async recordProbes(reports: ProbeReport[], now: number): Promise<HealthSnapshot> {
    for (const r of reports) this.pools[r.pool] = applyProbe(this.pools[r.pool], r.probe, r.thresholds, now);
    await this.ctx.storage.put(KEY, this.pools);
    return this.pools;
  }

  async recordForwards(reports: ForwardReport[], suspectMs: number, now: number): Promise<void> {
    for (const r of reports) this.pools[r.pool] = applyForward(this.pools[r.pool], r.outcome, suspectMs, now);
    await this.ctx.storage.put(KEY, this.pools);
  }

  /** Forget everything (operators after an incident; tests between cases). */
  async reset(): Promise<void> {
    this.pools = {};
    await this.ctx.storage.delete(KEY);
  }
}
