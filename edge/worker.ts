/**
 * voice-edge signaling Worker: Realtime-API-compatible calls steered to the
 * nearest healthy transceiver cluster. fetch serves the API, scheduled runs
 * the health monitors, HealthState holds pool health.
 */

import { app } from "./app.ts";
import type { Env } from "./env.ts";
import { runHealthChecks } from "./health/cron.ts";
import { internalError } from "./http/errors.ts";

export { HealthState } from "./health/state.ts";

export default {
  async fetch(request, env, ctx) {
    try {
      return await app.fetch(request, env, ctx);
    } catch (e) {
      // Last line of defence: never let the platform answer with its HTML error page.
      console.error("voice-edge: request failed outside the app:", e);
      return internalError("unknown").toResponse();
    }
  },

  async scheduled(controller, env) {
    // Awaited, not waitUntil: the run's outcome is the probe results being recorded.
    await runHealthChecks(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
