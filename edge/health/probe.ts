/**
 * One health probe: GET {endpoint}{monitor.path} within the monitor timeout.
 * The transceiver answers 200 {status:"ok", cluster, sessions, capacity, full}
 * or 503 {status:"draining"}; anything else, a timeout or a cluster id that
 * does not match the pool is a failure.
 */

import { withTimeout } from "../calls/timeout.ts";
import type { Monitor, Pool } from "../config/schema.ts";
import type { ProbeOutcome } from "./policy.ts";

export async function probePool(
  fetcher: typeof fetch,
  pool: Pool,
  monitor: Monitor,
  token: string | undefined,
): Promise<ProbeOutcome> {
  const url = joinUrl(pool.endpoint, monitor.path);
  const r = await withTimeout(monitor.timeout * 1000, async (signal) => {
    const res = await fetcher(url, {
      headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal,
    });
    return { status: res.status, body: await res.text() };
  });
  if (!r.ok)
    return {
      kind: "down",
      error: r.timedOut ? `timeout after ${monitor.timeout}s` : `unreachable: ${r.error}`,
    };
  return classifyHealth(pool, r.value.status, r.value.body);
}

export function classifyHealth(pool: Pool, status: number, text: string): ProbeOutcome {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
  } catch {
    // A non-JSON body is judged by its status alone below.
  }
  if (status === 503 && body.status === "draining") return { kind: "draining" };
  if (status !== 200 || body.status !== "ok") return { kind: "down", error: `HTTP ${status}` };
  if (typeof body.cluster === "number" && body.cluster !== pool.id) {
    return { kind: "down", error: `reports cluster ${body.cluster}, configured as ${pool.id}` };
  }
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return { kind: "up", full: body.full === true, sessions: num(body.sessions), capacity: num(body.capacity) };
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + path;
}
