/**
 * Which clusters a call tries, in order, and which Global Relay ingress each
 * attempt advertises. Pure: health and randomness come in as arguments.
 *
 * - Eligible pools are the default pools that are enabled with weight > 0.
 * - "proximity": nearest first by great-circle distance; pools within tie_km
 *   of each other share calls in proportion to weight. Without a caller
 *   location, and under policy "off", the default_pools order is the order.
 * - Ready pools come first, then suspect ones (a forward failed recently);
 *   unhealthy, full and draining pools are skipped.
 * - The fallback pool closes the list, whatever its health.
 * - The ingress is the one nearest the caller, or, without a caller location,
 *   the one nearest the cluster being tried.
 */
import type { EdgeConfig, Ingress, Pool } from "../config/schema.ts";
import { distanceKm, type Point } from "./geo.ts";

export type Availability = "ready" | "suspect" | "unavailable";

export interface PlannedAttempt {
  pool: Pool;
  ingress: Ingress;
  /** Caller-to-cluster distance, when the caller's location is known. */
  distanceKm?: number;
  availability: Availability;
  fallback: boolean;
}

export function planAttempts(
  config: EdgeConfig,
  availability: (pool: Pool) => Availability,
  caller: Point | undefined,
  random: () => number = Math.random,
): PlannedAttempt[] {
  const byId = new Map(config.pools.map((p) => [p.id, p]));
  const eligible = config.default_pools.map((id) => byId.get(id)!).filter((p) => p.enabled && p.weight > 0);
  const proximity = config.steering_policy === "proximity" && caller !== undefined;
  const ordered = proximity ? nearestFirst(eligible, caller, config.forwarding.tie_km, random) : eligible;

  const tiers: Record<Availability, Pool[]> = { ready: [], suspect: [], unavailable: [] };
  for (const p of ordered) tiers[availability(p)].push(p);
  const chosen = [...tiers.ready, ...tiers.suspect];
  const fallback = byId.get(config.fallback_pool);
  const withFallback = fallback?.enabled && !chosen.includes(fallback) ? [...chosen, fallback] : chosen;

  return withFallback.map((pool) => ({
    pool,
    ingress: nearestIngress(config.ingresses, caller ?? pool),
    distanceKm: caller ? distanceKm(caller, pool) : undefined,
    availability: availability(pool),
    fallback: pool === fallback && !chosen.includes(pool),
  }));
}

export function nearestIngress(ingresses: readonly Ingress[], to: Point): Ingress {
  let best = ingresses[0]!;
  let bestKm = Number.POSITIVE_INFINITY;
  for (const g of ingresses) {
    const km = distanceKm(to, g);
    if (km < bestKm) {
      best = g;
      bestKm = km;
    }
  }
  return best;
}

function nearestFirst(pools: Pool[], caller: Point, tieKm: number, random: () => number): Pool[] {
  const sorted = pools
    .map((pool) => ({ pool, km: distanceKm(caller, pool) }))
    .sort((a, b) => a.km - b.km || a.pool.id - b.pool.id);
  const out: Pool[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.km - sorted[i]!.km <= tieKm) j++;
    out.push(
      ...weightedShuffle(
        sorted.slice(i, j).map((s) => s.pool),
        random,
      ),
    );
    i = j;
  }
  return out;
}

/** Efraimidis–Spirakis: sort by u^(1/w), so each pool leads with probability weight / total. */
function weightedShuffle(pools: Pool[], random: () => number): Pool[] {
  if (pools.length < 2) return pools;
  return pools
    .map((pool) => ({ pool, key: random() ** (1 / pool.weight) }))
    .sort((a, b) => b.key - a.key)
    .map((k) => k.pool);
}
