/**
 * The relay's socket shell: two UDP sockets (io.ts: node:dgram, or batched
 * recvmmsg/sendmmsg through a native addon), optionally a TCP listener, and a
 * timer around Steering.
 *
 *   public socket   (--listen)    clients' datagrams in, replies out; for a cluster
 *                                 relay behind ingresses: the ingresses' encapsulated datagrams
 *   internal socket (--internal)  encapsulated datagrams to the next hop (transceivers, or
 *                                 for an ingress the cluster relays), their replies in
 *   TCP listener    (--tcp-listen) ICE-TCP clients (io-tcp.ts): RFC 4571 frames, each one
 *                                 steered like a datagram and sent on from the internal socket
 *
 * Everything that decides lives in steering.ts; here each datagram is handed
 * over and the verdict performed, synchronously: no async, no logging and no
 * allocation of ours per packet. Shared flow records (Redis) are written by
 * the recorder and read by the recovery, both off the packet path.
 */

import type { Endpoint, HintKeyring } from "../../shared/hint.ts";
import { familyOf, formatEndpoint } from "../../shared/ip.ts";
import { waitDrained } from "../runtime/drain.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { type IoBackend, type IoChoice, resolveIo } from "../udp-batch/io-choice.ts";
import type { EncapKeys } from "../wire/encap-auth.ts";
import { type AdminServer, startAdmin } from "./admin.ts";
import { type AddressSet, checkClusterFamilies, formatClusterMap } from "./config.ts";
import { lookUp, openFlowSharing, startRecovery } from "./flow-sharing.ts";
import type { FlowKv, FlowRecords } from "./flow-store.ts";
import { FlowTable } from "./flow-table.ts";
import type { IoContext, RelayIo } from "./io.ts";
import { startBatchIo } from "./io-batch.ts";
import { startDgramIo } from "./io-dgram.ts";
import { startTcpIo, type TcpIo } from "./io-tcp.ts";
import {
  emptyRedisStats,
  type RelayCounters,
  type RelaySnapshot,
  type RelayTier,
  relayRegistry,
} from "./metrics.ts";
import { clusterRoute, ingressRoute, type Route } from "./next-hop.ts";
import { FlowRecorder } from "./recorder.ts";
import type { FlowRecovery, RecoveryOptions } from "./recovery.ts";
import type { RelayStats } from "./stats.ts";
import { Steering } from "./steering.ts";
import { DEFAULT_TCP_LIMITS, type TcpLimits } from "./tcp-bounds.ts";

export type { RelayTier } from "./metrics.ts";

/** The ICE-TCP listener of a relay that faces clients (an ingress, or a cluster relay without ingresses). */
export interface RelayTcpOptions {
  listen: Endpoint;
  /** Bounds; each defaults to DEFAULT_TCP_LIMITS. */
  limits?: Partial<TcpLimits>;
}

export interface RelayOptions {
  /** "cluster" (default): forwards to transceivers. "ingress": a Global Relay ingress, forwards to cluster relays. */
  tier?: RelayTier;
  /** This relay's cluster id; required for the cluster tier. */
  cluster?: number;
  keys: HintKeyring;
  /** Encapsulation keys, shared by every relay and transceiver (docs/encapsulation.md). */
  encapKeys: EncapKeys;
  /** Public socket; default 0.0.0.0:3478. */
  listen?: Endpoint;
  /** ICE-TCP listener (RFC 6544 passive candidate); none when omitted. */
  tcp?: RelayTcpOptions;
  /** Internal socket toward the next hop; default 0.0.0.0:0 (ephemeral). */
  internal?: Endpoint;
  /** Ingress tier: where each cluster's relay listens (its public socket). */
  clusters?: ReadonlyMap<number, Endpoint>;
  /**
   * Cluster tier behind ingresses: the public socket takes encapsulated
   * datagrams from these senders only (and no raw client traffic).
   */
  ingresses?: AddressSet;
  /** Flows idle this long are removed; default 30 000 ms. */
  idleTimeoutMs?: number;
  /** Size bound of the flow table; default 100 000. */
  maxFlows?: number;
  /** Where to serve /metrics and /healthz; none when omitted. */
  admin?: Endpoint;
  /** SO_RCVBUF/SO_SNDBUF of both sockets (capped by net.core.rmem_max/wmem_max); default 4 MiB. */
  socketBufferBytes?: number;
  /** Next-hop decision; default: by tier (clusterRoute or ingressRoute). */
  route?: Route;
  /** SO_REUSEPORT on the public socket: workers (and a replacement instance) share its port. */
  reusePort?: boolean;
  /** I/O backend (io.ts); default "auto": batch when its addon loads, else dgram. */
  io?: IoChoice;
  /** Shared flow records: a Redis URL (connected and closed here) ... */
  redis?: string;
  /** ... or a store the caller owns. */
  flowKv?: FlowKv;
  /** Names this logical relay's records; default "cluster-<id>" or "ingress-<listen address>". */
  flowId?: string;
  /** Key prefix of the records; default "ve:flow:". */
  flowPrefix?: string;
  recovery?: Partial<RecoveryOptions>;
  /** Draining: a flow whose client has been silent this long has moved elsewhere; default 1000 ms. */
  drainQuietMs?: number;
  /** Worker index (metrics label, logs); default 0. */
  worker?: number;
  /** Wait this long for Redis before binding (so the first unknown datagrams can be looked up); default 1000 ms. */
  redisStartTimeoutMs?: number;
  /** Log start, drain and close at info (default); a supervisor's workers log them at debug. */
  lifecycleLogs?: boolean;
  logger?: Logger;
}

export interface DrainResult {
  /** Flows still active when the drain ended. */
  activeFlows: number;
  timedOut: boolean;
}

export interface Relay {
  tier: RelayTier;
  /** The I/O backend in use. */
  io: IoBackend;
  publicAddress: Endpoint;
  internalAddress: Endpoint;
  /** Where the ICE-TCP listener listens, if any. */
  tcpAddress: Endpoint | undefined;
  adminAddress: Endpoint | undefined;
  stats: RelayStats;
  flows: FlowTable;
  steering: Steering;
  records: FlowRecords | undefined;
  snapshot(): RelaySnapshot;
  /**
   * Stops taking new flows and keeps forwarding until no flow has been active
   * for drainQuietMs (they moved to another relay) or `timeoutMs` passed; then closes.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN: Endpoint = { address: "0.0.0.0", port: 3478 };
export const DEFAULT_INTERNAL: Endpoint = { address: "0.0.0.0", port: 0 };
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_FLOWS = 100_000;
const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;

export async function startRelay(o: RelayOptions): Promise<Relay> {
  const tier = o.tier ?? "cluster";
  const log = o.logger ?? createLogger("relay");
  const listen = o.listen ?? DEFAULT_LISTEN;
  const internalAt = o.internal ?? DEFAULT_INTERNAL;
  const idleMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!(idleMs > 0) || !Number.isFinite(idleMs))
    throw new Error(`idle timeout ${idleMs} ms is not a positive number`);
  const route = o.route ?? defaultRoute(tier, o, familyOf(internalAt.address));
  const behindIngresses = tier === "cluster" && o.ingresses !== undefined;
  if (tier === "ingress" && o.ingresses)
    throw new Error("an ingress takes clients, not ingresses: drop ingresses");
  if (o.tcp && behindIngresses)
    throw new Error("a cluster relay behind ingresses takes no clients: ICE-TCP is the ingress's");
  const tcpLimits: TcpLimits = { ...DEFAULT_TCP_LIMITS, ...o.tcp?.limits };
  // Before anything is opened: an unknown choice, or batch without its addon, throws here.
  const { backend, note: ioNote } = resolveIo(o.io ?? "auto");
  const table = new FlowTable(o.maxFlows ?? DEFAULT_MAX_FLOWS);
  const sharing = openFlowSharing(o, tier, listen, idleMs, log);
  const { records } = sharing;

  const steering = new Steering({
    keys: o.keys,
    encapKeys: o.encapKeys,
    route,
    table,
    ingresses: behindIngresses ? o.ingresses : undefined,
    recoverable: records !== undefined,
  });
  const recorder = records ? new FlowRecorder(records, table) : undefined;
  steering.changes = recorder;

  const lifecycle = (o.lifecycleLogs ?? true) ? log.info.bind(log) : log.debug.bind(log);
  const redisReady = await sharing.whenReady(o.redisStartTimeoutMs ?? 1000);

  let recovery: FlowRecovery | undefined;
  let io: RelayIo;
  try {
    const ioContext: IoContext = {
      steering,
      behindIngresses,
      listen,
      internal: internalAt,
      bufferBytes: o.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER,
      reusePort: o.reusePort ?? false,
      lookUp: (msg, address, port, now) =>
        recovery && lookUp(recovery, steering, behindIngresses, msg, address, port, now),
      log,
    };
    io = backend === "batch" ? startBatchIo(ioContext) : await startDgramIo(ioContext);
  } catch (err) {
    await sharing.close();
    throw err;
  }
  const opened = io;
  let tcp: TcpIo | undefined;
  if (o.tcp) {
    try {
      tcp = await startTcpIo({
        steering,
        listen: o.tcp.listen,
        limits: tcpLimits,
        maxConnections: table.maxFlows,
        reusePort: o.reusePort ?? false,
        forward: (header, buf, off, len, to) => opened.forward(header, buf, off, len, to),
        log,
      });
    } catch (err) {
      await io.close();
      await sharing.close();
      throw err;
    }
  }
  if (records)
    recovery = startRecovery(
      records,
      steering,
      behindIngresses,
      (d, hop) => opened.sendInternal(d, hop),
      o.recovery,
    );

  const sweepEvery = Math.min(5_000, Math.max(20, Math.floor(idleMs / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    steering.sweep(now, idleMs);
    recorder?.refresh(now);
    recovery?.sweep(now);
  }, sweepEvery);
  sweeper.unref();
  if (sharing.kv && recorder) sharing.kv.onUp = () => recorder.resync();

  const snapshot = (): RelaySnapshot => {
    steering.stats.sendFailures = io.sendFailures();
    return {
      worker: o.worker ?? 0,
      pid: process.pid,
      tier,
      cluster: tier === "cluster" ? o.cluster : undefined,
      stats: structuredClone(steering.stats),
      flows: table.size,
      maxFlows: table.maxFlows,
      tcpConnections: tcp?.connections() ?? 0,
      draining: steering.draining,
      redis: records
        ? { ...records.stats, up: records.up, lookupsInFlight: recovery?.inFlight ?? 0 }
        : emptyRedisStats(),
    };
  };

  let admin: AdminServer | undefined;
  try {
    admin = o.admin && (await startRelayAdmin(o.admin, snapshot, steering, records));
  } catch (err) {
    clearInterval(sweeper);
    await Promise.all([io.close(), tcp?.close()]);
    await sharing.close();
    throw err;
  }

  const { publicAddress, internalAddress } = io;
  lifecycle(
    listening(o, {
      tier,
      backend,
      ioNote,
      publicAddress,
      internalAddress,
      tcpAddress: tcp?.address,
      admin,
      behindIngresses,
      records,
      redisReady,
      idleMs,
      maxFlows: table.maxFlows,
    }),
    "relay listening",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      // Records of flows marked this turn, then every write answered: a replacement relay reads them.
      recorder?.flush();
      await Promise.all([io.close(), tcp?.close(), admin?.close(), records?.settled(500)]);
      await sharing.close();
      lifecycle({ flows: table.size, ...summary(steering.stats) }, "relay closed");
    })();
    return closing;
  };

  const quietMs = o.drainQuietMs ?? 1000;
  const drain = async (timeoutMs: number): Promise<DrainResult> => {
    steering.draining = true;
    tcp?.stopAccepting();
    lifecycle({ flows: table.size, timeoutMs }, "relay draining: no new flows");
    const { remaining: n, timedOut } = await waitDrained(() => activeFlows(table, Date.now() - quietMs), {
      timeoutMs,
      pollMs: Math.min(100, quietMs),
    });
    const result = { activeFlows: n, timedOut };
    lifecycle(result, n > 0 ? "relay drain deadline: closing with active flows" : "relay drained");
    await close();
    return result;
  };

  return {
    tier,
    io: backend,
    publicAddress,
    internalAddress,
    tcpAddress: tcp?.address,
    adminAddress: admin?.address,
    stats: steering.stats,
    flows: table,
    steering,
    records,
    snapshot,
    drain,
    close,
  };
}

/** What the "relay listening" line says. */
function listening(
  o: RelayOptions,
  r: {
    tier: RelayTier;
    backend: IoBackend;
    ioNote: string | undefined;
    publicAddress: Endpoint;
    internalAddress: Endpoint;
    tcpAddress: Endpoint | undefined;
    admin: AdminServer | undefined;
    behindIngresses: boolean;
    records: FlowRecords | undefined;
    redisReady: boolean | undefined;
    idleMs: number;
    maxFlows: number;
  },
): Record<string, unknown> {
  return {
    tier: r.tier,
    io: r.backend,
    ...(r.ioNote ? { ioNote: r.ioNote } : {}),
    public: formatEndpoint(r.publicAddress),
    internal: formatEndpoint(r.internalAddress),
    ...(r.tcpAddress ? { tcp: formatEndpoint(r.tcpAddress) } : {}),
    admin: r.admin ? formatEndpoint(r.admin.address) : "off",
    ...(r.tier === "cluster" ? { cluster: o.cluster } : {}),
    ...(o.clusters ? { clusters: formatClusterMap(o.clusters) } : {}),
    ...(r.behindIngresses ? { ingresses: o.ingresses!.toString() } : {}),
    ...(r.records
      ? { flowRecords: `${r.records.prefix}${r.records.id}:*`, redis: r.redisReady ? "up" : "down" }
      : {}),
    idleTimeoutMs: r.idleMs,
    maxFlows: r.maxFlows,
  };
}

/** Flows whose client spoke after `since`: what a drain waits for. */
function activeFlows(table: FlowTable, since: number): number {
  let n = 0;
  for (const f of table.flows()) if (f.lastSeen > since) n++;
  return n;
}

/** /metrics and /healthz of a relay on its own (a supervisor serves its workers' instead). */
function startRelayAdmin(
  at: Endpoint,
  snapshot: () => RelaySnapshot,
  steering: Steering,
  records: FlowRecords | undefined,
): Promise<AdminServer> {
  return startAdmin(
    at,
    relayRegistry(
      () => {
        const s = snapshot();
        return { workers: [s], total: s, restarts: 0 };
      },
      { redis: records !== undefined },
    ),
    () => ({
      ok: !steering.draining,
      flows: steering.table.size,
      ...(steering.draining ? { draining: true } : {}),
      ...(records ? { redis: records.up ? "up" : "down" } : {}),
    }),
  );
}

function defaultRoute(tier: RelayTier, o: RelayOptions, family: 4 | 6): Route {
  if (tier === "ingress") {
    if (!o.clusters || o.clusters.size === 0)
      throw new Error("an ingress needs clusters: where each cluster's relay listens");
    checkClusterFamilies(o.clusters, family);
    return ingressRoute(o.clusters);
  }
  if (o.clusters) throw new Error("clusters are for an ingress: a cluster relay forwards to transceivers");
  if (o.cluster === undefined || !Number.isInteger(o.cluster) || o.cluster < 0 || o.cluster > 65535)
    throw new Error(`a cluster relay needs its cluster id (0..65535), got ${o.cluster}`);
  return clusterRoute(o.cluster, family);
}

export function summary(stats: RelayCounters) {
  const drops = Object.fromEntries(Object.entries(stats.drops).filter(([, n]) => n > 0));
  return {
    clientPackets: stats.clientPackets,
    forwardedPackets: stats.forwardedPackets,
    transceiverPackets: stats.transceiverPackets,
    deliveredPackets: stats.deliveredPackets,
    flowsOpened: stats.flowsOpened,
    flowsRecovered: stats.flowsRecovered,
    flowsExpired: stats.flowsExpired,
    flowsEnded: stats.flowsEnded,
    drops,
  };
}
