/** `voice-edge stack` with one region on free loopback ports, as the whole-stack tests start it. */
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "./loopback-region.ts";

export async function startOneRegionStack(o: {
  cluster: number;
  workers: number;
  /** The topology's "backend" (default: the demo agent). */
  backend?: string;
  /** An upstream's key, put in this environment variable (the forked workers inherit it) and named by the backend URL's key_env. */
  upstreamKey?: { env: string; key: string };
}): Promise<RunningStack> {
  let backend = o.backend;
  if (backend && o.upstreamKey) {
    process.env[o.upstreamKey.env] = o.upstreamKey.key;
    backend += `${backend.includes("?") ? "&" : "?"}key_env=${o.upstreamKey.env}`;
  }
  return startLoopbackStack(
    [await loopbackRegion("eu", o.cluster, { workers: o.workers })],
    backend ? { backend } : {},
  );
}
