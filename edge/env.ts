/** Bindings of the Worker (wrangler.toml): vars, secrets and the health Durable Object. */
import type { HealthState } from "./health/state.ts";
import type { RuntimeVars } from "./runtime.ts";

export interface Env extends RuntimeVars {
  /** Comma-separated origins allowed to call from browsers; "*" (the default) allows any. */
  CORS_ALLOW_ORIGINS?: string;
  HEALTH: DurableObjectNamespace<HealthState>;
}
