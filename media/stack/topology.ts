/**
 * The local topology `voice-edge stack` runs: validated, with defaults that
 * make `npm start` work on one machine with nothing configured.
 */
import { z } from "zod";

const port = z.number().int().min(1).max(65535);

export const regionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "region names are lowercase words"),
  cluster: z.number().int().min(0).max(65535),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  /** The public UDP port clients send to: the region's Global Relay ingress (the address SDP answers advertise). */
  ingressPort: port,
  /** UDP port of the region's cluster relay, where ingresses send the cluster's flows; 0: any free port. */
  relayPort: z.number().int().min(0).max(65535).default(0),
  /** Session API of the region's transceiver host. */
  transceiverPort: port,
  /** Transceiver worker processes in the region. */
  workers: z.number().int().min(1).max(64).default(2),
  capacity: z.number().int().min(1).default(200),
});

export const topologySchema = z
  .object({
    host: z.string().default("127.0.0.1"),
    hintKeys: z.string().optional(),
    /** Encapsulation keys of the relays and transceivers (id:secret[,id:secret]); default: a random one per run. */
    encapKeys: z.string().optional(),
    /** Redis for the relays' flow records (flows then survive a relay restart); none: in memory only. */
    redis: z.string().optional(),
    /**
     * Worker processes per relay (each ingress and each cluster relay), on one port by SO_REUSEPORT and
     * restarted when they die; 0: the relays run in the stack's own process (tests that read their flow tables).
     */
    relayProcesses: z.number().int().min(0).max(16).default(2),
    /** Key prefix of the flow records. */
    flowPrefix: z.string().default("ve:flow:"),
    /** The signaling Worker (Miniflare), serving the Realtime-compatible API and the demo page. */
    edge: z
      .object({
        port,
        probeSeconds: z.number().int().min(1).max(60).default(2),
        /** request.cf of every local request (no Cloudflare here): where callers appear to be. */
        cf: z.record(z.string(), z.unknown()).optional(),
      })
      .prefault({ port: 8787 }),
    regions: z.array(regionSchema).min(1),
    /**
     * What the transceivers bridge sessions to: "demo" (the demo voice agent, `voice-edge backend`,
     * started by the stack), "echo" (no backend: sessions echo), or a `--backends` map
     * (model=ws://...,...; docs/backend-protocol.md).
     */
    backend: z.string().default("demo"),
  })
  .superRefine((t, ctx) => {
    const seen = new Map<number, string>();
    const claim = (p: number, what: string) => {
      const other = seen.get(p);
      if (other) ctx.addIssue({ code: "custom", message: `port ${p} is used twice: ${other} and ${what}` });
      seen.set(p, what);
    };
    claim(t.edge.port, "edge");
    const clusters = new Set<number>();
    for (const r of t.regions) {
      claim(r.ingressPort, `${r.name} ingress`);
      if (r.relayPort !== 0) claim(r.relayPort, `${r.name} cluster relay`);
      claim(r.transceiverPort, `${r.name} transceiver API`);
      if (clusters.has(r.cluster))
        ctx.addIssue({ code: "custom", message: `cluster ${r.cluster} appears twice` });
      clusters.add(r.cluster);
    }
  });

export type Topology = z.output<typeof topologySchema>;
export type Region = z.output<typeof regionSchema>;

export const DEFAULT_TOPOLOGY: z.input<typeof topologySchema> = {
  host: "127.0.0.1",
  edge: { port: 8787 },
  regions: [
    { name: "eu", cluster: 1, latitude: 50.11, longitude: 8.68, ingressPort: 3478, transceiverPort: 8801 },
    { name: "us", cluster: 2, latitude: 39.04, longitude: -77.49, ingressPort: 3479, transceiverPort: 8802 },
  ],
};

export function parseTopology(input: unknown): Topology {
  const r = topologySchema.safeParse(input);
  if (!r.success) {
    throw new Error(
      `invalid topology:\n  ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("\n  ")}`,
    );
  }
  return r.data;
}

/** The edge Worker's configuration (docs/edge.md) for this topology: one pool and one ingress per region. */
export function edgeConfig(t: Topology): unknown {
  const interval = t.edge.probeSeconds;
  return {
    pools: t.regions.map((r) => ({
      id: r.cluster,
      name: r.name,
      region: r.name,
      latitude: r.latitude,
      longitude: r.longitude,
      endpoint: `http://${t.host}:${r.transceiverPort}`,
    })),
    default_pools: t.regions.map((r) => r.cluster),
    fallback_pool: t.regions[t.regions.length - 1]!.cluster,
    monitors: [
      {
        id: "default",
        path: "/healthz",
        interval,
        timeout: Math.max(0.5, interval / 2),
        consecutive_up: 1,
        consecutive_down: 1,
      },
    ],
    ingresses: t.regions.map((r) => ({
      id: r.name,
      latitude: r.latitude,
      longitude: r.longitude,
      address: `${t.host}:${r.ingressPort}`,
    })),
  };
}
