/**
 * Prometheus view of a relay host: the totals of its workers (the families
 * without a worker label, as a single relay always had them) and each
 * worker's own (`voice_edge_relay_worker_*`, label `worker`). Nothing here
 * runs per packet: a scrape reads one snapshot of plain counters per worker.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { type FlowStoreStats, zeroFlowStoreStats } from "./flow-store.ts";
import { DROP_REASONS, HINT_FAILURES, type RelayStats } from "./stats.ts";
import { TCP_CLOSE_REASONS } from "./tcp-bounds.ts";

export type RelayTier = "cluster" | "ingress";

/** RelayStats as plain data (what a worker sends its supervisor). */
export type RelayCounters = { [K in keyof RelayStats]: RelayStats[K] };

export interface RelaySnapshot {
  worker: number;
  pid: number;
  tier: RelayTier;
  cluster: number | undefined;
  stats: RelayCounters;
  flows: number;
  maxFlows: number;
  /** ICE-TCP connections open now (0 without a TCP listener). */
  tcpConnections: number;
  draining: boolean;
  /** Shared flow records (zeros without Redis). */
  redis: FlowStoreStats & { up: boolean; lookupsInFlight: number };
}

export interface HostView {
  /** The workers alive now. */
  workers: RelaySnapshot[];
  /** Totals over the host's life (workers that died included), never decreasing. */
  total: RelaySnapshot;
  restarts: number;
}

const PATHS = [
  ["from_client", "clientPackets", "clientBytes"],
  ["to_transceiver", "forwardedPackets", "forwardedBytes"],
  ["from_transceiver", "transceiverPackets", "transceiverBytes"],
  ["to_client", "deliveredPackets", "deliveredBytes"],
] as const;

const FLOW_EVENTS = [
  ["opened", "flowsOpened"],
  ["repointed", "flowsRepointed"],
  ["verified", "flowsVerified"],
  ["expired", "flowsExpired"],
  ["ended", "flowsEnded"],
  ["closed", "flowsClosed"],
  ["recovered", "flowsRecovered"],
  ["ingress_moved", "ingressMoves"],
] as const;

/** A snapshot's count for one label value. */
type Read = (s: RelaySnapshot) => number;

/**
 * A counter family: voice_edge_relay_<name>_total from the host's totals and, given `perWorker` (its
 * help), voice_edge_relay_worker_<name>_total from each worker's snapshot. `series`: each value of its
 * label (none: "") with where its count is.
 */
interface CounterFamily {
  name: string;
  help: string;
  label?: string;
  perWorker?: string;
  series: [string, Read][];
}

/** One series per key of a record of counts (drops by reason, ...). */
const byKey = <K extends string>(keys: readonly K[], of: (s: RelaySnapshot) => Record<K, number>) =>
  keys.map((k): [string, Read] => [k, (s) => of(s)[k]]);
/** The plain counters of RelayStats (not the records by reason). */
type CountField = {
  [K in keyof RelayCounters]: RelayCounters[K] extends number ? K : never;
}[keyof RelayCounters];
/** One series per [label value, RelayStats field] (paths, flow events). */
const byField = (pairs: readonly (readonly [string, CountField])[]) =>
  pairs.map(([value, field]): [string, Read] => [value, (s) => s.stats[field]]);
const unlabelled = (read: Read): [string, Read][] => [["", read]];

/** The counter families of RelayStats, in exposition order. */
const STATS_COUNTERS: CounterFamily[] = [
  {
    name: "packets",
    help: "Datagrams by path: from_client, to_transceiver, from_transceiver, to_client (docs/relay.md: what each means per tier)",
    label: "path",
    perWorker: "Datagrams by worker and path",
    series: byField(PATHS.map(([path, packets]) => [path, packets] as const)),
  },
  {
    name: "bytes",
    help: "UDP payload bytes by path (to/from transceivers including the encapsulation header)",
    label: "path",
    perWorker: "Bytes by worker and path",
    series: byField(PATHS.map(([path, , bytes]) => [path, bytes] as const)),
  },
  {
    name: "send_failures",
    help: "Datagrams the kernel refused to send (full socket buffer, unreachable destination); batched I/O backend only",
    series: unlabelled((s) => s.stats.sendFailures),
  },
  {
    name: "drops",
    help: "Datagrams dropped, by reason (docs/relay.md)",
    label: "reason",
    perWorker: "Drops by worker and reason",
    series: byKey(DROP_REASONS, (s) => s.stats.drops),
  },
  {
    name: "hint_failures",
    help: "Routing hints refused (the bad-hint drops), by decoder reason",
    label: "reason",
    series: byKey(HINT_FAILURES, (s) => s.stats.hintFailures),
  },
  {
    name: "flow_events",
    help: "Flows opened (STUN), re-pointed (new session), verified (ClientHello with cookie), expired (idle), recovered (shared record), ingress_moved",
    label: "event",
    perWorker: "Flow events by worker",
    series: byField(FLOW_EVENTS),
  },
  {
    name: "tcp_accepted",
    help: "ICE-TCP connections accepted by the TCP listener",
    series: unlabelled((s) => s.stats.tcpAccepted),
  },
  {
    name: "tcp_closed",
    help: "ICE-TCP connections closed, by reason (docs/relay.md, ICE-TCP)",
    label: "reason",
    series: byKey(TCP_CLOSE_REASONS, (s) => s.stats.tcpCloses),
  },
  {
    name: "tcp_backpressure_drops",
    help: "Replies dropped because the client's TCP connection had too much queued (a slow reader)",
    series: unlabelled((s) => s.stats.tcpBackpressureDrops),
  },
];

/** The counter families of the shared flow records (only with Redis), in exposition order. */
const REDIS_COUNTERS: CounterFamily[] = [
  {
    name: "redis_lookups",
    help: "Lookups of unknown clients in the shared flow records, by result: hit, miss, error (down, timeout, bad record)",
    label: "result",
    perWorker: "Flow record lookups by worker and result",
    series: [
      ["hit", (s) => s.redis.hits],
      ["miss", (s) => s.redis.misses],
      ["error", (s) => s.redis.errors],
    ],
  },
  {
    name: "redis_writes",
    help: "Flow record writes, by result: ok (sent), error (failed), skipped (Redis down or busy: written again later), deleted (the flow ended)",
    label: "result",
    series: [
      ["ok", (s) => s.redis.writes - s.redis.writeErrors],
      ["error", (s) => s.redis.writeErrors],
      ["skipped", (s) => s.redis.writesSkipped],
      ["deleted", (s) => s.redis.deletes],
    ],
  },
];

export function emptyRedisStats(): RelaySnapshot["redis"] {
  return { up: false, lookupsInFlight: 0, ...zeroFlowStoreStats() };
}

/** The registry of a relay host; the Redis families only when it has Redis. */
export function relayRegistry(view: () => HostView | Promise<HostView>, o: { redis: boolean }): Registry {
  const registers = [new Registry()];
  // prom-client collects every metric concurrently: one view per scrape, shared by all.
  let pending: Promise<HostView> | undefined;
  let current: HostView | undefined;
  const scrape = async () => {
    pending ??= Promise.resolve(view()).finally(() => {
      pending = undefined;
    });
    current = await pending;
    return current;
  };
  /** A family's configuration: filled from the scrape's view on every collect. */
  const scraped = <M extends Counter | Gauge>(
    name: string,
    help: string,
    labelNames: string[],
    fill: (m: M, v: HostView) => void,
  ) => ({
    name,
    help,
    labelNames,
    registers,
    async collect(this: M) {
      const v = await scrape();
      this.reset();
      fill(this, v);
    },
  });
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (c: Counter, v: HostView) => void,
  ) => new Counter(scraped(name, help, labelNames, fill));
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, v: HostView) => void) =>
    new Gauge(scraped(name, help, labelNames, fill));
  const hostCounters = (families: CounterFamily[]) => {
    for (const { name, help, label, series } of families) {
      counter(`voice_edge_relay_${name}_total`, help, label === undefined ? [] : [label], (c, v) => {
        for (const [value, read] of series) {
          if (label === undefined) c.inc(read(v.total));
          else c.inc({ [label]: value }, read(v.total));
        }
      });
    }
  };
  const workerCounters = (families: CounterFamily[]) => {
    for (const { name, label, perWorker, series } of families) {
      if (perWorker === undefined || label === undefined) continue;
      counter(`voice_edge_relay_worker_${name}_total`, perWorker, ["worker", label], (c, v) => {
        for (const s of v.workers) {
          const worker = String(s.worker);
          for (const [value, read] of series) c.inc({ worker, [label]: value }, read(s));
        }
      });
    }
  };

  // Host totals.
  hostCounters(STATS_COUNTERS);
  gauge("voice_edge_relay_tcp_connections", "ICE-TCP connections open on all workers", [], (g, v) => {
    g.set(v.workers.reduce((n, w) => n + w.tcpConnections, 0));
  });
  gauge("voice_edge_relay_flows", "Flows in the tables of all workers", [], (g, v) => {
    g.set(v.workers.reduce((n, w) => n + w.flows, 0));
  });
  gauge("voice_edge_relay_max_flows", "Size bound of each worker's flow table", [], (g, v) => {
    g.set(v.total.maxFlows);
  });
  if (o.redis) {
    hostCounters(REDIS_COUNTERS);
    gauge(
      "voice_edge_relay_redis_up",
      "1 when every worker has Redis ready (absent without Redis)",
      [],
      (g, v) => {
        g.set(v.workers.length > 0 && v.workers.every((w) => w.redis.up) ? 1 : 0);
      },
    );
  }
  gauge("voice_edge_relay_draining", "1 while draining (SIGTERM): no new flows", [], (g, v) => {
    g.set(v.workers.some((w) => w.draining) ? 1 : 0);
  });
  gauge("voice_edge_relay_workers", "Worker processes alive", [], (g, v) => {
    g.set(v.workers.length);
  });
  counter("voice_edge_relay_worker_restarts_total", "Workers restarted after they died", [], (c, v) => {
    c.inc(v.restarts);
  });
  gauge(
    "voice_edge_relay_info",
    "The relay's tier and cluster (ingress: none)",
    ["tier", "cluster"],
    (g, v) => {
      g.set({ tier: v.total.tier, cluster: v.total.cluster === undefined ? "" : String(v.total.cluster) }, 1);
    },
  );

  // Per worker.
  workerCounters(STATS_COUNTERS);
  gauge("voice_edge_relay_worker_flows", "Flows in each worker's table", ["worker"], (g, v) => {
    for (const s of v.workers) g.set({ worker: String(s.worker) }, s.flows);
  });
  if (o.redis) {
    workerCounters(REDIS_COUNTERS);
    gauge("voice_edge_relay_worker_redis_up", "1 when the worker has Redis ready", ["worker"], (g, v) => {
      for (const s of v.workers) g.set({ worker: String(s.worker) }, s.redis.up ? 1 : 0);
    });
  }
  return registers[0]!;
}

/** The sum of snapshots (counters and flows); tier, cluster and maxFlows from the first. */
export function sumSnapshots(list: RelaySnapshot[], template: RelaySnapshot): RelaySnapshot {
  const out = structuredClone(template);
  zeroCounters(out);
  for (const s of list) addCounters(out, s);
  return out;
}

export function zeroCounters(s: RelaySnapshot): void {
  mapNumbers(s.stats, () => 0);
  mapNumbers(s.redis, () => 0);
  s.flows = 0;
  s.tcpConnections = 0;
}

/** Adds b's counters into a. */
export function addCounters(a: RelaySnapshot, b: RelaySnapshot): void {
  addInto(a.stats, b.stats);
  addInto(a.redis, b.redis);
  a.flows += b.flows;
  a.tcpConnections += b.tcpConnections;
}

/** a[k] = max(a[k], b[k]) for every counter: totals never go down. */
export function maxCounters(a: RelaySnapshot, b: RelaySnapshot): void {
  mergeInto(a.stats, b.stats, Math.max);
  mergeInto(a.redis, b.redis, Math.max);
}

function addInto(a: object, b: object): void {
  mergeInto(a, b, (x, y) => x + y);
}

function mergeInto(a: object, b: object, f: (x: number, y: number) => number): void {
  const A = a as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === "number" && typeof A[k] === "number") A[k] = f(A[k] as number, v);
    else if (v && typeof v === "object" && A[k] && typeof A[k] === "object") mergeInto(A[k] as object, v, f);
  }
}

function mapNumbers(o: object, f: (x: number) => number): void {
  const O = o as Record<string, unknown>;
  for (const [k, v] of Object.entries(O)) {
    if (typeof v === "number") O[k] = f(v);
    else if (v && typeof v === "object") mapNumbers(v, f);
  }
}
