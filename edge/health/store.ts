/** Access to the health Durable Object from request and cron handlers. */
import type { Env } from "../env.ts";
import type { ForwardReport, HealthSnapshot } from "./state.ts";

/** Calls give up on the Durable Object after this long; steering then goes on without it (fail open). */
const DO_TIMEOUT_MS = 1000;

export function healthStub(env: Env) {
  return env.HEALTH.get(env.HEALTH.idFromName("global"));
}

// Per isolate; only used when the config asks for caching.
let cached: { at: number; snapshot: HealthSnapshot } | undefined;

export async function readHealth(env: Env, cacheMs = 0): Promise<HealthSnapshot> {
  const now = Date.now();
  if (cacheMs > 0 && cached && now - cached.at < cacheMs) return cached.snapshot;
  try {
    const snapshot = await within(healthStub(env).snapshot() as Promise<HealthSnapshot>, undefined);
    if (!snapshot) throw new Error(`no answer within ${DO_TIMEOUT_MS} ms`);
    cached = { at: now, snapshot };
    return snapshot;
  } catch (e) {
    console.error(`voice-edge: health read failed, steering without it: ${(e as Error).message}`);
    return cached?.snapshot ?? {};
  }
}

export async function reportForwards(env: Env, reports: ForwardReport[], suspectMs: number): Promise<void> {
  if (reports.length === 0) return;
  cached = undefined; // this isolate's next call must see its own reports
  try {
    await within(healthStub(env).recordForwards(reports, suspectMs, Date.now()), undefined);
  } catch (e) {
    console.error(`voice-edge: passive health report failed: ${(e as Error).message}`);
  }
}

async function within<T>(p: Promise<T>, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), DO_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
