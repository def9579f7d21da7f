/**
 * `voice-edge relay`: run a relay of either tier until SIGTERM (drain) or SIGINT (close).
 *
 *   --tier cluster   (default) forwards each flow to the transceiver its hint names; faces
 *                    clients directly, or, with --ingresses, takes them from Global Relay ingresses
 *   --tier ingress   a Global Relay ingress: forwards each flow to the relay of the hint's
 *                    cluster (--clusters), and replies leave from the address the client sent to
 *
 * One worker runs in this process; more (--workers N, default one per CPU) run as
 * processes sharing the public port (SO_REUSEPORT) under a supervisor.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseKeyring } from "../../shared/hint.ts";
import { parseEndpoint } from "../../shared/ip.ts";
import { createLogger } from "../runtime/log.ts";
import { type OptionSpecs, parseOptions } from "../runtime/options.ts";
import { IO_BACKENDS, resolveIo } from "../udp-batch/io-choice.ts";
import { parseEncapKeys } from "../wire/encap-auth.ts";
import { AddressSet, parseClusterMap } from "./config.ts";
import { DEFAULT_FLOW_PREFIX } from "./flow-store.ts";
import { execWithRelayFlags } from "./heap-flags.ts";
import { parseRedisUrl } from "./redis.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_FLOWS, type Relay, startRelay } from "./server.ts";
import { type Supervisor, startSupervisor } from "./supervisor.ts";
import { DEFAULT_TCP_LIMITS } from "./tcp-bounds.ts";
import { relayOptionsOf, type WorkerInit } from "./worker-init.ts";

const ABOUT =
  "Stateless UDP forwarder: opens a flow per client from a STUN Binding request whose ICE ufrag is a\n" +
  "valid routing hint, and relays the client's datagrams to where the hint points and back. A cluster\n" +
  "relay (--tier cluster) forwards to the transceiver; a Global Relay ingress (--tier ingress) forwards\n" +
  "to the relay of the hint's cluster. With Redis (--redis / REDIS_URL) flows survive relay restarts.";

/** The relay's own addresses: port 0 binds any free port. */
const BIND = { bind: true };

const endpoint = (example: string) =>
  z
    .string()
    .refine(
      (s) => parseEndpoint(s, BIND) !== undefined,
      `expected host:port with an IP literal, e.g. ${example}`,
    );

const checked = <T>(parse: (s: string) => T) =>
  z.string().transform((s, ctx) => {
    try {
      return parse(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

const TIERS = ["cluster", "ingress"] as const;
type Tier = (typeof TIERS)[number];

const seconds = (dflt: number) =>
  z.coerce
    .number({ error: "expected seconds, a number > 0" })
    .positive("expected seconds, a number > 0")
    .default(dflt);

const count = (min: number, max: number, dflt: number) =>
  z.coerce
    .number({ error: `expected an integer ${min}..${max}` })
    .int(`expected an integer ${min}..${max}`)
    .min(min, `expected an integer ${min}..${max}`)
    .max(max, `expected an integer ${min}..${max}`)
    .default(dflt);

const clusterId = z
  .string({ error: "required: this relay's cluster id, 0..65535" })
  .regex(/^\d+$/, "expected a cluster id 0..65535")
  .transform(Number)
  .pipe(z.number().max(65535, "expected a cluster id 0..65535"));

/** A required keyring option (hint or encapsulation keys), parsed later: id:secret[,id:secret]. */
const keyList = z
  .string({ error: "required: id:secret[,id:secret]" })
  .min(1, "required: id:secret[,id:secret]");

function specsFor(tier: Tier) {
  const onlyFor = (other: Tier) => z.undefined({ error: `only for --tier ${other}` });
  return {
    tier: {
      env: "VOICE_EDGE_RELAY_TIER",
      schema: z.enum(TIERS, { error: 'expected "cluster" or "ingress"' }).default("cluster"),
      description:
        "cluster: forward to transceivers; ingress: a Global Relay ingress, forward to the relay of the hint's cluster",
    },
    listen: {
      env: "VOICE_EDGE_RELAY_LISTEN",
      schema: endpoint("0.0.0.0:3478 or [::]:3478").default("0.0.0.0:3478"),
      description:
        "public UDP socket, host:port ([v6]:port): for clients, or (cluster relay with --ingresses) for the ingresses",
    },
    "tcp-listen": {
      env: "VOICE_EDGE_RELAY_TCP_LISTEN",
      schema: endpoint("0.0.0.0:443").optional(),
      description:
        "ICE-TCP listener (RFC 6544 passive candidate, RFC 4571 frames), host:port; unset: none. Not behind ingresses",
    },
    "tcp-max-frame": {
      env: "VOICE_EDGE_RELAY_TCP_MAX_FRAME",
      schema: count(64, 65535, DEFAULT_TCP_LIMITS.maxFrame),
      description: "ICE-TCP: largest frame a client may send (bytes); a longer length closes the connection",
    },
    "tcp-first-frame-timeout": {
      env: "VOICE_EDGE_RELAY_TCP_FIRST_FRAME_TIMEOUT",
      schema: seconds(DEFAULT_TCP_LIMITS.firstFrameTimeoutMs / 1000),
      description:
        "ICE-TCP: seconds for a connection's first frame to open a flow (a Binding request with a hint)",
    },
    "tcp-frame-timeout": {
      env: "VOICE_EDGE_RELAY_TCP_FRAME_TIMEOUT",
      schema: seconds(DEFAULT_TCP_LIMITS.frameTimeoutMs / 1000),
      description: "ICE-TCP: seconds a frame may take to arrive once begun (slowloris bound)",
    },
    "tcp-max-per-address": {
      env: "VOICE_EDGE_RELAY_TCP_MAX_PER_ADDRESS",
      schema: count(1, 1_000_000, DEFAULT_TCP_LIMITS.maxPerAddress),
      description: "ICE-TCP: connections at once from one client IP address, per worker",
    },
    "tcp-max-buffered": {
      env: "VOICE_EDGE_RELAY_TCP_MAX_BUFFERED",
      schema: count(1024, 16 * 1024 * 1024, DEFAULT_TCP_LIMITS.maxBufferedBytes),
      description:
        "ICE-TCP: bytes queued toward a slow client beyond which replies are dropped (real-time media)",
    },
    internal: {
      env: "VOICE_EDGE_RELAY_INTERNAL",
      schema: endpoint("10.0.0.5:0").default("0.0.0.0:0"),
      description:
        "internal UDP socket toward the next hop (its family must be theirs); port 0 = ephemeral, else worker i binds port+i",
    },
    cluster: {
      env: "VOICE_EDGE_CLUSTER",
      schema: tier === "cluster" ? clusterId : clusterId.optional(),
      description: "cluster id: only hints naming this cluster open flows (required for --tier cluster)",
    },
    keys: {
      env: "VOICE_EDGE_HINT_KEYS",
      schema: keyList,
      description:
        "hint keys, id:secret[,id:secret] (hex or base64 secrets), as given to the signaling side (required)",
    },
    "encap-keys": {
      env: "VOICE_EDGE_ENCAP_KEYS",
      schema: keyList,
      description:
        "encapsulation keys, id:secret[,id:secret]: authenticate the datagrams between relays and transceivers; the same on all of them, never the edge's (required)",
    },
    clusters: {
      env: "VOICE_EDGE_RELAY_CLUSTERS",
      schema:
        tier === "ingress"
          ? z
              .string({ error: "required with --tier ingress: id=host:port[,id=host:port]" })
              .pipe(checked(parseClusterMap))
          : onlyFor("ingress"),
      description:
        "ingress: where each cluster's relay listens, id=host:port[,id=host:port] (required with --tier ingress)",
    },
    ingresses: {
      env: "VOICE_EDGE_RELAY_INGRESSES",
      schema: tier === "cluster" ? checked((s) => AddressSet.parse(s)).optional() : onlyFor("cluster"),
      description:
        "cluster relay behind Global Relay ingresses: who may send, ip[,ip:port][,cidr]; the public socket then takes only them",
    },
    "idle-timeout": {
      env: "VOICE_EDGE_RELAY_IDLE_TIMEOUT",
      schema: z.coerce
        .number({ error: "expected seconds, a number > 0" })
        .positive("expected seconds, a number > 0")
        .default(DEFAULT_IDLE_TIMEOUT_MS / 1000),
      description: "seconds without a datagram from the client after which its flow is removed",
    },
    "max-flows": {
      env: "VOICE_EDGE_RELAY_MAX_FLOWS",
      schema: z.coerce
        .number({ error: "expected a positive integer" })
        .int("expected a positive integer")
        .positive("expected a positive integer")
        .default(DEFAULT_MAX_FLOWS),
      description: "size bound of each worker's flow table; new flows are refused (and counted) when full",
    },
    workers: {
      env: "VOICE_EDGE_RELAY_WORKERS",
      schema: z.coerce
        .number({ error: "expected an integer 1..256" })
        .int("expected an integer 1..256")
        .min(1, "expected an integer 1..256")
        .max(256, "expected an integer 1..256")
        .optional(),
      description:
        "worker processes sharing the public port (SO_REUSEPORT); unset: one per CPU; 1: in this process, no supervisor",
    },
    redis: {
      env: "REDIS_URL",
      schema: checked((s) => {
        parseRedisUrl(s);
        return s;
      }).optional(),
      description:
        "shared flow records: redis://host:6379, rediss://..., or redis+cluster://host1:7000,host2:7001 (unset: in memory only)",
    },
    "flow-prefix": {
      env: "VOICE_EDGE_RELAY_FLOW_PREFIX",
      schema: z
        .string()
        .regex(/^[A-Za-z0-9_.:{}-]*$/, "letters, digits and _.:{}- only")
        .default(DEFAULT_FLOW_PREFIX),
      description: "key prefix of the flow records in Redis",
    },
    "flow-id": {
      env: "VOICE_EDGE_RELAY_FLOW_ID",
      schema: z
        .string()
        .regex(/^[A-Za-z0-9_.:[\]-]+$/, "letters, digits and _.:[]- only")
        .optional(),
      description:
        "names this logical relay in the flow records (all its instances share it); unset: cluster-<id> or ingress-<listen>",
    },
    "drain-timeout": {
      env: "VOICE_EDGE_RELAY_DRAIN_TIMEOUT",
      schema: z.coerce
        .number({ error: "expected seconds, a number >= 0" })
        .min(0, "expected seconds, a number >= 0")
        .default(25),
      description:
        "on SIGTERM: seconds to keep forwarding while flows move elsewhere (SIGINT closes at once)",
    },
    io: {
      env: "VOICE_EDGE_RELAY_IO",
      schema: z.enum(IO_BACKENDS, { error: 'expected "dgram", "batch" or "auto"' }).default("auto"),
      description:
        "UDP I/O: batch (recvmmsg/sendmmsg, native addon, Linux), dgram (node:dgram), auto (batch when the addon loads)",
    },
    admin: {
      env: "VOICE_EDGE_RELAY_ADMIN",
      schema: z
        .string()
        .refine((s) => s === "off" || parseEndpoint(s, BIND) !== undefined, 'expected host:port or "off"')
        .default("127.0.0.1:9478"),
      description: 'HTTP host:port for /metrics and /healthz, or "off"',
    },
  } satisfies OptionSpecs;
}

/** The options of the default tier (docs, --help); `voice-edge relay` picks by --tier. */
export const specs = specsFor("cluster");

/** The tier asked for, before validation (validation reports a bad value). */
function tierOf(argv: string[], env: NodeJS.ProcessEnv): Tier {
  const { values } = parseArgs({ args: argv, strict: false, options: { tier: { type: "string" } } });
  const raw = typeof values.tier === "string" ? values.tier : env.VOICE_EDGE_RELAY_TIER;
  return raw === "ingress" ? "ingress" : "cluster";
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions("relay", ABOUT, specsFor(tierOf(argv, process.env)), argv);
  if (!o) return;
  parseKeyring(o.keys); // a bad key fails here, once, not in every worker
  parseEncapKeys(o["encap-keys"]);
  execWithRelayFlags(); // small young generation: short GC pauses (heap-flags.ts); workers inherit it
  const log = createLogger("relay");
  const listen = parseEndpoint(o.listen, BIND)!;
  const internal = parseEndpoint(o.internal, BIND)!;
  const workers = o.workers ?? Math.max(1, availableParallelism());
  const init: Omit<WorkerInit, "worker"> = {
    tier: o.tier,
    cluster: o.cluster,
    keys: o.keys,
    encapKeys: o["encap-keys"],
    listen,
    internal,
    clusters: o.clusters ? [...o.clusters] : undefined,
    ingresses: o.ingresses?.toString(),
    idleTimeoutMs: o["idle-timeout"] * 1000,
    maxFlows: o["max-flows"],
    redis: o.redis,
    flowId: o["flow-id"],
    flowPrefix: o["flow-prefix"],
    io: o.io,
    tcp: o["tcp-listen"]
      ? {
          listen: parseEndpoint(o["tcp-listen"], BIND)!,
          limits: {
            maxFrame: o["tcp-max-frame"],
            firstFrameTimeoutMs: o["tcp-first-frame-timeout"] * 1000,
            frameTimeoutMs: o["tcp-frame-timeout"] * 1000,
            maxPerAddress: o["tcp-max-per-address"],
            maxBufferedBytes: o["tcp-max-buffered"],
          },
        }
      : undefined,
  };
  resolveIo(o.io); // --io batch without the addon fails here, once, not in every worker
  if (internal.port !== 0 && internal.port + workers - 1 > 65535)
    throw new Error(`--internal port ${internal.port} + ${workers} workers runs past 65535`);
  const admin = o.admin === "off" ? undefined : parseEndpoint(o.admin, BIND);
  const drainMs = o["drain-timeout"] * 1000;

  let stop: (timeoutMs: number) => Promise<unknown>;
  if (workers === 1) {
    const relay: Relay = await startRelay({
      ...relayOptionsOf(init),
      reusePort: true,
      admin,
      logger: log,
    });
    stop = (t) => (t > 0 ? relay.drain(t) : relay.close());
  } else {
    const sup: Supervisor = await startSupervisor({ init, workers, admin, log });
    stop = (t) => sup.stop(t);
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      // SIGTERM drains; SIGINT (or a second signal) closes at once.
      const now = signal === "SIGINT" || stopping;
      log.info({ signal }, now ? "relay stopping" : "relay stopping: draining");
      stopping = true;
      stop(now ? 0 : drainMs).then(
        () => resolve(),
        () => resolve(),
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
