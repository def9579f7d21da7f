/**
 * `voice-edge stack` on loopback for the tests and benchmarks: regions on free
 * ports (one worker unless told), and the stack started with them behind an
 * edge on a free port.
 */
import { type RunningStack, startStack } from "../../media/stack/main.ts";
import { parseTopology } from "../../media/stack/topology.ts";
import { freePort } from "./stack.ts";
import { freeUdpPort } from "./udp.ts";

export interface LoopbackRegionOptions {
  latitude?: number;
  longitude?: number;
  workers?: number;
  /** An impairer in front of the ingress (stack.impairers), on a free port. */
  impair?: boolean;
  /** The ingress's ICE-TCP port, free. */
  tcp?: boolean;
  /** With impair and tcp: the impairer's TCP mode in front of the ingress's ICE-TCP port, on a free port. */
  impairTcp?: boolean;
}

/**
 * Ports handed out by this module in this process: a free UDP port (an ingress's) and a free TCP
 * port can have the same number, and the topology refuses a port used twice whatever the protocol.
 */
const handedOut = new Set<number>();
async function unique(free: () => Promise<number>): Promise<number> {
  for (;;) {
    const port = await free();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
const udp = () => unique(freeUdpPort);
const tcp = () => unique(freePort);

export async function loopbackRegion(name: string, cluster: number, o: LoopbackRegionOptions = {}) {
  return {
    name,
    cluster,
    latitude: o.latitude ?? 50,
    longitude: o.longitude ?? 8,
    ingressPort: await udp(),
    ...(o.tcp ? { ingressTcpPort: await tcp() } : {}),
    transceiverPort: await tcp(),
    workers: o.workers ?? 1,
    ...(o.impair ? { impair: { port: await udp(), ...(o.impairTcp ? { tcpPort: await tcp() } : {}) } } : {}),
  };
}

/**
 * The stack with these regions on 127.0.0.1; `topology` adds or overrides the
 * rest of the topology (backend, relayProcesses, redis, ...), and its `edge`
 * is merged into the edge's (free HTTP port, probes every 60 s).
 */
export async function startLoopbackStack(
  regions: unknown[],
  topology: { edge?: Record<string, unknown>; [key: string]: unknown } = {},
): Promise<RunningStack> {
  const { edge, ...rest } = topology;
  return startStack(
    parseTopology({
      host: "127.0.0.1",
      ...rest,
      edge: { port: await tcp(), probeSeconds: 60, ...edge },
      regions,
    }),
  );
}
