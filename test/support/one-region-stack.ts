/** `voice-edge stack` with one region on free loopback ports, as the whole-stack tests start it. */
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "./loopback-region.ts";

export async function startOneRegionStack(o: {
  cluster: number;
  workers: number;
  /** The topology's "backend" (default: the demo agent). */
  backend?: string;
}): Promise<RunningStack> {
  return startLoopbackStack(
    [await loopbackRegion("eu", o.cluster, { workers: o.workers })],
    o.backend ? { backend: o.backend } : {},
  );
}
