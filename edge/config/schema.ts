/**
 * The edge topology, in Cloudflare Load Balancing's vocabulary: pools (one per
 * transceiver cluster) with coordinates and a signaling endpoint, the default
 * pools in failover order, a fallback pool, health monitors, and the Global
 * Relay ingresses answers advertise. Snake_case like the Cloudflare API.
 */
import { z } from "zod";
import { decodeIpLiteral } from "../../shared/ip.ts";

const latitude = z.number().min(-90).max(90);
const longitude = z.number().min(-180).max(180);

/**
 * ip:port, IPv6 in brackets. An IP literal, not a name: it becomes the ICE candidate of the answer,
 * and the transceivers accept nothing else.
 */
const IP_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/;

const ipPort = z.string().refine((s) => {
  const m = IP_PORT.exec(s);
  const port = Number(m?.[3]);
  return !!m && decodeIpLiteral(m[1] ?? m[2]!) !== undefined && port >= 1 && port <= 65535;
}, "must be ip:port (IPv6 in brackets), an IP literal, not a name");

export const MonitorSchema = z.strictObject({
  id: z.string().min(1),
  /** Health endpoint path on the pool's signaling endpoint. */
  path: z.string().startsWith("/").default("/healthz"),
  /** Seconds between probes. Probes run from the Cron Trigger, so the effective floor is its period. */
  interval: z.number().int().min(1).max(3600).default(60),
  /** Seconds before a probe counts as failed. */
  timeout: z.number().positive().max(60).default(5),
  /** Consecutive successful probes before an unhealthy pool is healthy again. */
  consecutive_up: z.number().int().min(1).max(20).default(2),
  /** Consecutive failed probes before a healthy pool is unhealthy. */
  consecutive_down: z.number().int().min(1).max(20).default(2),
});

export const PoolSchema = z.strictObject({
  /** Cluster id: the one the transceivers report and the routing hint carries. */
  id: z.number().int().min(0).max(65535),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "use lowercase letters, digits and '-'"),
  region: z.string().min(1).max(64),
  latitude,
  longitude,
  /** Base URL of the cluster's transceiver session API. */
  endpoint: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  /** Relative share among pools at about the same distance; 0 drains the pool. */
  weight: z.number().min(0).max(1).default(1),
  enabled: z.boolean().default(true),
  /** Monitor id; the first monitor when omitted. */
  monitor: z.string().min(1).optional(),
});

export const IngressSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, "use 1..32 of letters, digits, '_', '.', '-'"),
    latitude,
    longitude,
    /** Public address:port of the Global Relay ingress, told to the transceiver. */
    address: ipPort,
    /**
     * Public address:port of its ICE-TCP listener (443 in production): answers advertise it beside
     * the UDP address, as a `tcptype passive` candidate at a lower priority. Unset: UDP only.
     */
    tcp_address: ipPort.optional(),
    /** Answers advertise only the TCP candidate (for tests of the TCP path); needs tcp_address. */
    tcp_only: z.boolean().default(false),
  })
  .refine((g) => !g.tcp_only || g.tcp_address !== undefined, {
    path: ["tcp_only"],
    message: "needs tcp_address",
  });

export const ForwardingSchema = z.strictObject({
  /** Give up on one cluster after this long (connect plus answer). */
  attempt_timeout_ms: z.number().int().min(50).max(30_000).default(3000),
  /** Give up on the whole call after this long, across attempts. */
  deadline_ms: z.number().int().min(100).max(60_000).default(10_000),
  max_attempts: z.number().int().min(1).max(10).default(3),
  /** How long a failed forward keeps a pool out of rotation unless a probe clears it sooner. */
  suspect_seconds: z.number().int().min(1).max(3600).default(30),
  /** Retry-After sent with 503 when no cluster could take the call. */
  retry_after_seconds: z.number().int().min(1).max(3600).default(5),
  /**
   * Reuse a health snapshot in the isolate for this long instead of asking the Durable Object on
   * every call. 0 (the default) reads every time: strictly consistent, one round trip to the object.
   */
  health_cache_ms: z.number().int().min(0).max(60_000).default(0),
  /** Pools within this many km of the nearest count as equally near and share calls by weight. */
  tie_km: z.number().min(0).max(5000).default(50),
});

export const LimitsSchema = z.strictObject({
  max_body_bytes: z.number().int().min(1024).max(1_048_576).default(65_536),
  max_session_bytes: z.number().int().min(256).max(65_536).default(16_384),
});

const DEFAULT_MONITOR = { id: "default" };

export const ConfigSchema = z
  .strictObject({
    steering_policy: z.enum(["proximity", "off"]).default("proximity"),
    pools: z.array(PoolSchema).min(1),
    /** Failover order: used when the caller's location is unknown or the policy is "off". */
    default_pools: z.array(z.number().int()).min(1).optional(),
    /** Last resort when no pool is healthy; tried regardless of its health. */
    fallback_pool: z.number().int().optional(),
    monitors: z
      .array(MonitorSchema)
      .min(1)
      .default([MonitorSchema.parse(DEFAULT_MONITOR)]),
    ingresses: z.array(IngressSchema).min(1),
    forwarding: ForwardingSchema.default(ForwardingSchema.parse({})),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
  })
  .superRefine((cfg, ctx) => {
    const dup = <T>(items: T[], what: string, path: string, key: (t: T) => unknown) => {
      const seen = new Set<unknown>();
      items.forEach((item, i) => {
        const k = key(item);
        if (seen.has(k))
          ctx.addIssue({ code: "custom", path: [path, i], message: `duplicate ${what} ${String(k)}` });
        seen.add(k);
      });
    };
    dup(cfg.pools, "pool id", "pools", (p) => p.id);
    dup(cfg.pools, "pool name", "pools", (p) => p.name);
    dup(cfg.monitors, "monitor id", "monitors", (m) => m.id);
    dup(cfg.ingresses, "ingress id", "ingresses", (g) => g.id);
    const ids = new Set(cfg.pools.map((p) => p.id));
    cfg.default_pools?.forEach((id, i) => {
      if (!ids.has(id))
        ctx.addIssue({ code: "custom", path: ["default_pools", i], message: `unknown pool ${id}` });
    });
    if (cfg.default_pools) dup(cfg.default_pools, "pool", "default_pools", (id) => id);
    if (cfg.fallback_pool !== undefined && !ids.has(cfg.fallback_pool)) {
      ctx.addIssue({ code: "custom", path: ["fallback_pool"], message: `unknown pool ${cfg.fallback_pool}` });
    }
    const monitors = new Set(cfg.monitors.map((m) => m.id));
    cfg.pools.forEach((p, i) => {
      if (p.monitor !== undefined && !monitors.has(p.monitor)) {
        ctx.addIssue({
          code: "custom",
          path: ["pools", i, "monitor"],
          message: `unknown monitor ${p.monitor}`,
        });
      }
    });
    cfg.monitors.forEach((m, i) => {
      if (m.timeout >= m.interval) {
        ctx.addIssue({
          code: "custom",
          path: ["monitors", i, "timeout"],
          message: "must be shorter than interval",
        });
      }
    });
    if (cfg.forwarding.attempt_timeout_ms > cfg.forwarding.deadline_ms) {
      ctx.addIssue({
        code: "custom",
        path: ["forwarding", "attempt_timeout_ms"],
        message: "must not exceed deadline_ms",
      });
    }
  })
  .transform((cfg) => {
    const defaultPools = cfg.default_pools ?? cfg.pools.map((p) => p.id);
    return {
      ...cfg,
      default_pools: defaultPools,
      fallback_pool: cfg.fallback_pool ?? defaultPools[defaultPools.length - 1]!,
    };
  });

export type EdgeConfig = z.output<typeof ConfigSchema>;
export type Pool = z.output<typeof PoolSchema>;
export type Monitor = z.output<typeof MonitorSchema>;
export type Ingress = z.output<typeof IngressSchema>;
export type Forwarding = z.output<typeof ForwardingSchema>;
