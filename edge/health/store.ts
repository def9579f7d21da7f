/** Access to the health Durable Object from request and cron handlers. */
import type { Env } from "../env.ts";
import type { ForwardReport, HealthSnapshot } from "./state.ts";

/** Calls give up on the Durable Object after this long; steering then goes on without it (fail open). */
const DO_TIMEOUT_MS = 1000;

export function healthStub(env: Env) {
  return env.HEALTH.get(env.HEALTH.idFromName("global"));
}

export async function readHealth(env: Env): Promise<HealthSnapshot> {
  try {
    return await within(healthStub(env).snapshot() as Promise<HealthSnapshot>, {});
  } catch (e) {
    console.error(`voice-edge: health read failed, steering without it: ${(e as Error).message}`);
    return {};
  }
}

export async function reportForwards(env: Env, reports: ForwardReport[], suspectMs: number): Promise<void> {
  if (reports.length === 0) return;
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
