/**
 * Operator endpoints: GET /healthz (is this edge configured; no key) and
 * GET /v1/edge/health (pool health as the steering sees it; server API key).
 */
import type { AppContext } from "../app-env.ts";
import { authenticate } from "../auth/authenticate.ts";
import { availabilityOf } from "../health/policy.ts";
import { readHealth } from "../health/store.ts";
import { loadRuntime } from "../runtime.ts";

export function edgeHealthz(c: AppContext): Response {
  const loaded = loadRuntime(c.env);
  return loaded.ok
    ? c.json({ status: "ok", pools: loaded.runtime.config.pools.length })
    : c.json({ status: "misconfigured", problems: loaded.errors.length }, 500);
}

export async function poolHealth(c: AppContext): Promise<Response> {
  const rt = c.get("runtime");
  await authenticate(c.req.header("authorization"), {
    apiKeys: rt.apiKeys,
    ring: rt.ring,
    nowMs: Date.now(),
    ephemeral: false,
  });
  const health = await readHealth(c.env);
  const now = Date.now();
  return c.json({
    pools: rt.config.pools.map((p) => ({
      id: p.id,
      name: p.name,
      region: p.region,
      enabled: p.enabled,
      availability: availabilityOf(health[p.id], now),
      health: health[p.id] ?? null,
    })),
  });
}
