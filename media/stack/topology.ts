/**
 * The local topology `voice-edge stack` runs: validated, with defaults that
 * make `npm start` work on one machine with nothing configured.
 */
import { z } from "zod";
import { parseProfile } from "../impair/profile.ts";

const port = z.number().int().min(1).max(65535);

export const regionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "region names are lowercase words"),
  cluster: z.number().int().min(0).max(65535),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  /** The public UDP port clients send to: the region's Global Relay ingress (the address SDP answers advertise). */
  ingressPort: port,
  /** The ingress's ICE-TCP port (a passive TCP candidate beside the UDP one); 0 or unset: any free port. */
  ingressTcpPort: z.number().int().min(0).max(65535).default(0),
  /** UDP port of the region's cluster relay, where ingresses send the cluster's flows; 0: any free port. */
  relayPort: z.number().int().min(0).max(65535).default(0),
  /** Session API of the region's transceiver host. */
  transceiverPort: port,
  /** Transceiver worker processes in the region. */
  workers: z.number().int().min(1).max(64).default(2),
  capacity: z.number().int().min(1).default(200),
  /**
   * An impairer (`voice-edge impair`) in front of the region's ingress: it listens on `port`, forwards
   * to the ingress with `profile` both ways, and the edge advertises it instead of the ingress.
   */
  impair: z
    .object({
      port,
      profile: z
        .string()
        .default("clean")
        .refine(
          (spec) => {
            try {
              parseProfile(spec);
              return true;
            } catch {
              return false;
            }
          },
          { error: (i) => `not a profile: ${String(i.input)} (voice-edge impair --help)` },
        ),
      seed: z.number().int().min(0).max(0xffffffff).default(1),
      /** TCP mode: the impairer also listens here in front of the ingress's ICE-TCP port, advertised as the TCP candidate. */
      tcpPort: port.optional(),
    })
    .optional(),
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
    /** Answers advertise only the ingresses' ICE-TCP candidates, no UDP one (tests of the TCP path). */
    tcpOnly: z.boolean().default(false),
    /** The signaling Worker (Miniflare), serving the Realtime-compatible API and the demo page. */
    edge: z
      .object({
        port,
        probeSeconds: z.number().int().min(1).max(60).default(2),
        /** request.cf of every local request (no Cloudflare here): where callers appear to be. */
        cf: z.record(z.string(), z.unknown()).optional(),
        /**
         * The same Worker over HTTPS/WSS (what the `openai` package's Realtime WebSocket clients need),
         * with a self-signed certificate; 0: no HTTPS.
         */
        httpsPort: z.number().int().min(0).max(65535).default(0),
        /** Where that certificate is kept (default: $XDG_STATE_HOME/voice-edge/tls, ~/.local/state/...). */
        tlsDir: z.string().optional(),
      })
      .prefault({ port: 8787 }),
    regions: z.array(regionSchema).min(1),
    /**
     * What the transceivers bridge sessions to: "demo" (the demo voice agent, `voice-edge backend`,
     * started by the stack), "echo" (no backend: sessions echo), one backend URL for every model
     * (e.g. realtime+wss://api.openai.com/v1/realtime or live+wss://api.openai.com/v1/live/sessions:
     * docs/bridge.md), or a `--backends` map
     * (model=URL,...).
     */
    backend: z.string().default("demo"),
    /** The demo agent's turn detection: Silero VAD when it loads ("auto"), or one by name (`voice-edge backend --vad`). */
    vad: z.enum(["auto", "silero", "energy"]).default("auto"),
  })
  .superRefine((t, ctx) => {
    const seen = new Map<number, string>();
    const claim = (p: number, what: string) => {
      const other = seen.get(p);
      if (other) ctx.addIssue({ code: "custom", message: `port ${p} is used twice: ${other} and ${what}` });
      seen.set(p, what);
    };
    claim(t.edge.port, "edge");
    if (t.edge.httpsPort !== 0) claim(t.edge.httpsPort, "edge (HTTPS)");
    const clusters = new Set<number>();
    for (const r of t.regions) {
      claim(r.ingressPort, `${r.name} ingress`);
      if (r.impair) claim(r.impair.port, `${r.name} impairer`);
      if (r.impair?.tcpPort) claim(r.impair.tcpPort, `${r.name} TCP impairer`);
      if (t.tcpOnly && r.impair && !r.impair.tcpPort)
        ctx.addIssue({
          code: "custom",
          message: `${r.name}: tcpOnly with an impairer needs impair.tcpPort (its TCP candidate)`,
        });
      if (r.ingressTcpPort !== 0) claim(r.ingressTcpPort, `${r.name} ingress (TCP)`);
      if (r.relayPort !== 0) claim(r.relayPort, `${r.name} cluster relay`);
      claim(r.transceiverPort, `${r.name} transceiver API`);
      if (clusters.has(r.cluster))
        ctx.addIssue({ code: "custom", message: `cluster ${r.cluster} appears twice` });
      clusters.add(r.cluster);
    }
  });

export type Topology = z.output<typeof topologySchema>;
export type Region = z.output<typeof regionSchema>;

/**
 * Whether a region's answers carry its ingress's own ICE-TCP candidate: not behind an impairer, whose
 * TCP mode (impair.tcpPort) is then the TCP candidate or there is none, so that no path goes around it.
 */
export function advertisesIngressTcp(r: Region): boolean {
  return r.impair === undefined;
}

/** The port a region's callers send to: its impairer's, if it has one, else its ingress's. */
export function advertisedPort(r: Region): number {
  return r.impair?.port ?? r.ingressPort;
}

export const DEFAULT_TOPOLOGY: z.input<typeof topologySchema> = {
  host: "127.0.0.1",
  edge: { port: 8787, httpsPort: 8788 },
  regions: [
    {
      name: "eu",
      cluster: 1,
      latitude: 50.11,
      longitude: 8.68,
      ingressPort: 3478,
      ingressTcpPort: 3478,
      transceiverPort: 8801,
    },
    {
      name: "us",
      cluster: 2,
      latitude: 39.04,
      longitude: -77.49,
      ingressPort: 3479,
      ingressTcpPort: 3479,
      transceiverPort: 8802,
    },
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

/**
 * The edge Worker's configuration (docs/edge.md) for this topology: one pool and one ingress per
 * region; with `tcpPorts` (per region, where its ICE-TCP candidate points: the ingress's listener or
 * its TCP impairer; undefined: none) their TCP candidates too.
 */
export function edgeConfig(t: Topology, tcpPorts?: readonly (number | undefined)[]): unknown {
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
    ingresses: t.regions.map((r, i) => ({
      id: r.name,
      latitude: r.latitude,
      longitude: r.longitude,
      address: `${t.host}:${advertisedPort(r)}`,
      ...(tcpPorts?.[i] !== undefined
        ? { tcp_address: `${t.host}:${tcpPorts[i]}`, tcp_only: t.tcpOnly }
        : {}),
    })),
  };
}
