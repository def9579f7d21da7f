/** `voice-edge stack` with one region on free loopback ports, as the whole-stack tests start it. */
import { type RunningStack, startStack } from "../../media/stack/main.ts";
import { parseTopology } from "../../media/stack/topology.ts";
import { freePort } from "./stack.ts";
import { freeUdpPort } from "./udp.ts";

export async function startOneRegionStack(o: {
  cluster: number;
  workers: number;
  /** The topology's "backend" (default: the demo agent). */
  backend?: string;
}): Promise<RunningStack> {
  return startStack(
    parseTopology({
      host: "127.0.0.1",
      edge: { port: await freePort(), probeSeconds: 60 },
      regions: [
        {
          name: "eu",
          cluster: o.cluster,
          latitude: 50,
          longitude: 8,
          ingressPort: await freeUdpPort(),
          transceiverPort: await freePort(),
          workers: o.workers,
        },
      ],
      ...(o.backend ? { backend: o.backend } : {}),
    }),
  );
}
