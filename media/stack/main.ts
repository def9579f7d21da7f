/**
 * `voice-edge stack` (what `npm start` runs): the whole media side on one
 * machine. Per region: a Global Relay ingress on the ingress port (the
 * address SDP answers advertise; UDP, and ICE-TCP on its TCP port), a
 * cluster relay behind it, and a
 * transceiver host with its workers behind the cluster relay. Every ingress
 * reaches every region's cluster relay, so a call steered to another region
 * still enters through the ingress nearest the caller:
 *
 *   client -> ingress (region of the caller) -> cluster relay (region of the call) -> transceiver
 *
 * With Redis (topology "redis", or REDIS_URL) the relays keep flow records and
 * survive restarts; without, they work in memory. Prints what runs where;
 * Ctrl-C stops everything.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { z } from "zod";
import type { Endpoint } from "../../shared/hint.ts";
import { parseKeyring } from "../../shared/hint.ts";
import { formatEndpoint, isUnspecifiedIp } from "../../shared/ip.ts";
import { type RunningBackend, startBackendServer } from "../backend/server.ts";
import { type Impairer, startImpairer } from "../impair/impairer.ts";
import { parseProfile } from "../impair/profile.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_FLOWS, type Relay, startRelay } from "../relay/server.ts";
import { type Supervisor, startSupervisor } from "../relay/supervisor.ts";
import { DEFAULT_TCP_LIMITS } from "../relay/tcp-bounds.ts";
import { relayOptionsOf, type WorkerInit } from "../relay/worker-init.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { parseOptions } from "../runtime/options.ts";
import { type BridgeConfig, parseBackends } from "../transceiver/bridge/backends.ts";
import { type RunningTransceiver, startTransceiver } from "../transceiver/main.ts";
import { parseEncapKeys } from "../wire/encap-auth.ts";
import { type LocalEdge, startLocalEdge } from "./edge.ts";
import { defaultTlsDir } from "./tls.ts";
import {
  advertisedPort,
  advertisesIngressTcp,
  DEFAULT_TOPOLOGY,
  edgeConfig,
  parseTopology,
  type Topology,
} from "./topology.ts";

const specs = {
  config: {
    env: "VOICE_EDGE_STACK_CONFIG",
    schema: z.string().optional(),
    description: "topology JSON file (default: two regions on 127.0.0.1)",
  },
};

export interface RunningStack {
  topology: Topology;
  keys: string;
  /** The encapsulation keys every relay and transceiver of the stack shares (never the edge). */
  encapKeys: string;
  /** The session API token of every transceiver, given to the edge. */
  token: string;
  /** Per region, the Global Relay ingress on its ingress port (in this process: topology.relayProcesses 0). */
  relays: Relay[];
  /** Per region, the cluster relay behind the ingresses (in this process: topology.relayProcesses 0). */
  clusterRelays: Relay[];
  /**
   * Per region, the ingress as relayProcesses worker processes on its port (SO_REUSEPORT), each
   * restarted when it dies; empty with relayProcesses 0.
   */
  ingressHosts: Supervisor[];
  /** Per region, the cluster relay's worker processes, likewise. */
  clusterHosts: Supervisor[];
  /** Per region, where its cluster relay listens. */
  clusterRelayAddresses: Endpoint[];
  /** Per region, where its ingress's ICE-TCP listener listens. */
  ingressTcpAddresses: Endpoint[];
  transceivers: RunningTransceiver[];
  /** Per region, its impairer in front of the ingress (topology region "impair"), or undefined. */
  impairers: (Impairer | undefined)[];
  /** The demo voice agent, when topology.backend is "demo". */
  backend: RunningBackend | undefined;
  edge: LocalEdge | undefined;
  close(): Promise<void>;
}

async function assertFree(host: string, port: number, what: string, udp: boolean): Promise<void> {
  const err = await new Promise<Error | undefined>((resolve) => {
    if (udp) {
      const s = createSocket("udp4");
      s.once("error", (e) => resolve(e));
      s.bind(port, host, () => s.close(() => resolve(undefined)));
    } else {
      const s = createServer();
      s.once("error", (e) => resolve(e));
      s.listen(port, host, () => s.close(() => resolve(undefined)));
    }
  });
  if (err)
    throw new Error(
      `${what} cannot use ${udp ? "UDP" : "TCP"} ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
    );
}

export async function startStack(topology: Topology): Promise<RunningStack> {
  const log = createLogger("stack");
  const keys = topology.hintKeys ?? `1:${randomBytes(32).toString("hex")}`;
  const encapKeys = topology.encapKeys ?? `1:${randomBytes(32).toString("hex")}`;
  const token = randomBytes(24).toString("base64url");
  parseKeyring(keys);
  parseEncapKeys(encapKeys);
  const { host } = topology;
  await assertFree(host, topology.edge.port, "edge", false);
  if (topology.edge.httpsPort !== 0) await assertFree(host, topology.edge.httpsPort, "edge (HTTPS)", false);
  for (const r of topology.regions) {
    await assertFree(host, r.ingressPort, `${r.name} ingress`, true);
    if (r.impair) await assertFree(host, r.impair.port, `${r.name} impairer`, true);
    if (r.ingressTcpPort !== 0) await assertFree(host, r.ingressTcpPort, `${r.name} ingress (TCP)`, false);
    if (r.relayPort !== 0) await assertFree(host, r.relayPort, `${r.name} cluster relay`, true);
    await assertFree(host, r.transceiverPort, `${r.name} transceiver API`, false);
  }
  const relays: Relay[] = [];
  const clusterRelays: Relay[] = [];
  const ingressHosts: Supervisor[] = [];
  const clusterHosts: Supervisor[] = [];
  const transceivers: RunningTransceiver[] = [];
  const impairers: (Impairer | undefined)[] = [];
  const ingressTcpAddresses: Endpoint[] = [];
  let edge: LocalEdge | undefined;
  let backend: RunningBackend | undefined;
  const close = async () => {
    await edge?.close();
    await Promise.allSettled(transceivers.map((t) => t.close()));
    await Promise.allSettled(impairers.map((i) => i?.close()));
    await Promise.allSettled(relays.map((r) => r.close()));
    await Promise.allSettled(clusterRelays.map((r) => r.close()));
    await Promise.allSettled([...ingressHosts, ...clusterHosts].map((h) => h.stop(0)));
    await backend?.close();
  };
  // The demo voice agent answers every model unless the topology names backends (or "echo").
  let bridge: BridgeConfig | undefined;
  if (topology.backend === "demo") {
    backend = await startBackendServer({
      host,
      port: 0,
      vadEngine: topology.vad,
      log: log.child({ component: "backend" }),
    });
    bridge = { backends: { default: backend.url, "*": backend.url }, reconnect: 1, connectTimeoutMs: 3000 };
  } else if (topology.backend !== "echo") {
    bridge = { backends: parseBackends(topology.backend), reconnect: 1, connectTimeoutMs: 3000 };
  }
  const records = { redis: topology.redis, flowPrefix: topology.flowPrefix };
  try {
    // Cluster relays first: the ingresses are configured with where they listen.
    const processes = topology.relayProcesses;
    const relayLog = (component: string, region: string) => log.child({ component, region });
    const withDefaults = (init: TierInit): Omit<WorkerInit, "worker"> => ({
      ...init,
      idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
      maxFlows: DEFAULT_MAX_FLOWS,
      ...records,
    });
    for (const r of topology.regions) {
      const cluster = withDefaults({
        tier: "cluster",
        cluster: r.cluster,
        keys,
        encapKeys,
        listen: { address: host, port: r.relayPort },
        internal: { address: host, port: 0 },
        // Every ingress of the stack runs on this host.
        ingresses: isUnspecifiedIp(host) ? "0.0.0.0/0,::/0" : host,
        clusters: undefined,
        flowId: `cluster-${r.cluster}`,
      });
      const logger = relayLog("cluster-relay", r.name);
      if (processes > 0) clusterHosts.push(await relayHost(cluster, processes, logger));
      else clusterRelays.push(await startRelay({ ...relayOptionsOf(cluster), logger }));
    }
    const clusterRelayAddresses =
      processes > 0 ? clusterHosts.map((h) => h.publicAddress) : clusterRelays.map((c) => c.publicAddress);
    const clusters = topology.regions.map(
      (r, i) => [r.cluster, clusterRelayAddresses[i]!] as [number, Endpoint],
    );
    for (const r of topology.regions) {
      const ingress = withDefaults({
        tier: "ingress",
        cluster: undefined,
        keys,
        encapKeys,
        listen: { address: host, port: r.ingressPort },
        internal: { address: host, port: 0 },
        clusters,
        ingresses: undefined,
        flowId: `ingress-${r.name}`,
        tcp: { listen: { address: host, port: r.ingressTcpPort }, limits: DEFAULT_TCP_LIMITS },
      });
      const logger = relayLog("ingress", r.name);
      if (processes > 0) {
        ingressHosts.push(await relayHost(ingress, processes, logger));
        ingressTcpAddresses.push(ingressHosts.at(-1)!.tcpAddress!);
      } else {
        relays.push(await startRelay({ ...relayOptionsOf(ingress), logger }));
        ingressTcpAddresses.push(relays.at(-1)!.tcpAddress!);
      }
    }
    for (const r of topology.regions) {
      if (!r.impair) {
        impairers.push(undefined);
        continue;
      }
      const profile = parseProfile(r.impair.profile);
      impairers.push(
        await startImpairer({
          listen: { address: host, port: r.impair.port },
          target: { address: host, port: r.ingressPort },
          up: profile,
          down: profile,
          seed: r.impair.seed,
          ...(r.impair.tcpPort
            ? {
                tcpListen: { address: host, port: r.impair.tcpPort },
                tcpTarget: ingressTcpAddresses[impairers.length]!,
              }
            : {}),
          log: log.child({ component: "impair", region: r.name }),
        }),
      );
    }
    // Behind an impairer only its TCP mode is advertised: the ingress's own listener would be a way around it.
    const advertisedTcp = topology.regions.map((r, i) =>
      advertisesIngressTcp(r) ? ingressTcpAddresses[i] : impairers[i]?.tcp?.address,
    );
    for (const r of topology.regions) {
      transceivers.push(
        await startTransceiver(
          {
            cluster: r.cluster,
            keys,
            encapKeys,
            listen: { address: host, port: r.transceiverPort },
            workers: r.workers,
            udpHost: host,
            udpPort: 0,
            advertiseHost: host,
            ingress: { address: host, port: advertisedPort(r) },
            ingressTcp: advertisedTcp[transceivers.length],
            capacity: r.capacity,
            silenceTimeoutMs: 30_000,
            token,
            bridge,
          },
          log.child({ component: "transceiver", region: r.name }),
        ),
      );
    }
    edge = await startLocalEdge({
      host,
      port: topology.edge.port,
      config: edgeConfig(
        topology,
        advertisedTcp.map((a) => a?.port),
      ),
      transceiverToken: token,
      probeEveryMs: topology.edge.probeSeconds * 1000,
      cf: topology.edge.cf,
      https:
        topology.edge.httpsPort === 0
          ? undefined
          : { port: topology.edge.httpsPort, tlsDir: topology.edge.tlsDir ?? defaultTlsDir() },
      log,
    });
    await edge.probe();
  } catch (err) {
    await close();
    throw err;
  }
  const clusterRelayAddresses = clusterHosts.length
    ? clusterHosts.map((h) => h.publicAddress)
    : clusterRelays.map((c) => c.publicAddress);
  return {
    topology,
    keys,
    encapKeys,
    token,
    relays,
    clusterRelays,
    ingressHosts,
    clusterHosts,
    clusterRelayAddresses,
    ingressTcpAddresses,
    transceivers,
    impairers,
    backend,
    edge,
    close,
  };
}

/**
 * A relay tier of one region as `processes` worker processes on one port (SO_REUSEPORT, as in
 * production): its media never shares an event loop with signaling, a process that dies is
 * restarted with backoff (supervisor.ts), and the other keeps forwarding meanwhile.
 */
function relayHost(init: Omit<WorkerInit, "worker">, processes: number, log: Logger): Promise<Supervisor> {
  return startSupervisor({ init, workers: processes, admin: undefined, log });
}

/** A relay tier of one region as the stack configures it; the rest are the stack's defaults. */
type TierInit = Omit<WorkerInit, "worker" | "idleTimeoutMs" | "maxFlows" | "redis" | "flowPrefix">;

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions("stack", "The whole stack on one machine (what `npm start` runs).", specs, argv);
  if (!o) return;
  const topology = parseTopology(o.config ? JSON.parse(readFileSync(o.config, "utf8")) : DEFAULT_TOPOLOGY);
  topology.redis ??= process.env.REDIS_URL || undefined;
  const stack = await startStack(topology);
  const lines = topology.regions.map((r, i) => {
    const t = stack.transceivers[i]!;
    const cr = formatEndpoint(stack.clusterRelayAddresses[i]!);
    const impair = r.impair ? `  impairer udp ${topology.host}:${r.impair.port} (${r.impair.profile})` : "";
    const tcp = formatEndpoint(stack.ingressTcpAddresses[i]!);
    return `  ${r.name.padEnd(4)} cluster ${r.cluster}  ingress udp ${topology.host}:${r.ingressPort} tcp ${tcp}${impair}  cluster relay udp ${cr}  transceiver ${t.url} (${r.workers} workers)`;
  });
  const redis = topology.redis
    ? `flow records in Redis (${topology.flowPrefix}*)`
    : "flows in memory (set REDIS_URL for flow records)";
  console.log(
    `\nvoice-edge stack is up\n${lines.join("\n")}\n  relays: ${redis}\n\n` +
      `  edge ${stack.edge!.url}  (Realtime-compatible API; dev API key sk-voice-edge-dev-key)\n` +
      (stack.edge!.https
        ? `  edge ${stack.edge!.https.url}  (the same over HTTPS/WSS, for the openai package's WebSocket clients)\n` +
          `       its certificate: ${stack.edge!.https.certPath}\n` +
          `       trust it: NODE_EXTRA_CA_CERTS=${stack.edge!.https.certPath} (baseURL ${stack.edge!.https.url}/v1)\n`
        : "") +
      `  backend ${stack.backend ? `${stack.backend.url} (demo voice agent: it repeats what you say; talk over it to interrupt)` : topology.backend}\n\n` +
      `Open the demo page: ${stack.edge!.url}/  (call, talk, listen)\n` +
      `Or POST an SDP offer to ${stack.edge!.url}/v1/realtime/calls (OpenAI Realtime API shape)\n` +
      "Health: GET <transceiver>/healthz   Metrics: GET <transceiver>/metrics\nCtrl-C stops everything.\n",
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await stack.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  // A transceiver worker that dies is restarted by its host (logged there): the stack keeps running.
}
