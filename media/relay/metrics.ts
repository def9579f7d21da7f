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
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (c: Counter, v: HostView) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const v = await scrape();
        this.reset();
        fill(this, v);
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, v: HostView) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const v = await scrape();
        this.reset();
        fill(this, v);
      },
    });

  // Host totals.
  counter(
    "voice_edge_relay_packets_total",
    "Datagrams by path: from_client, to_transceiver, from_transceiver, to_client (docs/relay.md: what each means per tier)",
    ["path"],
    (c, v) => {
      for (const [path, packets] of PATHS) c.inc({ path }, v.total.stats[packets]);
    },
  );
  counter(
    "voice_edge_relay_bytes_total",
    "UDP payload bytes by path (to/from transceivers including the encapsulation header)",
    ["path"],
    (c, v) => {
      for (const [path, , bytes] of PATHS) c.inc({ path }, v.total.stats[bytes]);
    },
  );
  counter(
    "voice_edge_relay_send_failures_total",
    "Datagrams the kernel refused to send (full socket buffer, unreachable destination); batched I/O backend only",
    [],
    (c, v) => c.inc(v.total.stats.sendFailures),
  );
  counter(
    "voice_edge_relay_drops_total",
    "Datagrams dropped, by reason (docs/relay.md)",
    ["reason"],
    (c, v) => {
      for (const reason of DROP_REASONS) c.inc({ reason }, v.total.stats.drops[reason]);
    },
  );
  counter(
    "voice_edge_relay_hint_failures_total",
    "Routing hints refused (the bad-hint drops), by decoder reason",
    ["reason"],
    (c, v) => {
      for (const reason of HINT_FAILURES) c.inc({ reason }, v.total.stats.hintFailures[reason]);
    },
  );
  counter(
    "voice_edge_relay_flow_events_total",
    "Flows opened (STUN), re-pointed (new session), verified (ClientHello with cookie), expired (idle), recovered (shared record), ingress_moved",
    ["event"],
    (c, v) => {
      for (const [event, field] of FLOW_EVENTS) c.inc({ event }, v.total.stats[field]);
    },
  );
  counter(
    "voice_edge_relay_tcp_accepted_total",
    "ICE-TCP connections accepted by the TCP listener",
    [],
    (c, v) => c.inc(v.total.stats.tcpAccepted),
  );
  counter(
    "voice_edge_relay_tcp_closed_total",
    "ICE-TCP connections closed, by reason (docs/relay.md, ICE-TCP)",
    ["reason"],
    (c, v) => {
      for (const reason of TCP_CLOSE_REASONS) c.inc({ reason }, v.total.stats.tcpCloses[reason]);
    },
  );
  counter(
    "voice_edge_relay_tcp_backpressure_drops_total",
    "Replies dropped because the client's TCP connection had too much queued (a slow reader)",
    [],
    (c, v) => c.inc(v.total.stats.tcpBackpressureDrops),
  );
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
    counter(
      "voice_edge_relay_redis_lookups_total",
      "Lookups of unknown clients in the shared flow records, by result: hit, miss, error (down, timeout, bad record)",
      ["result"],
      (c, v) => {
        const r = v.total.redis;
        c.inc({ result: "hit" }, r.hits);
        c.inc({ result: "miss" }, r.misses);
        c.inc({ result: "error" }, r.errors);
      },
    );
    counter(
      "voice_edge_relay_redis_writes_total",
      "Flow record writes, by result: ok (sent), error (failed), skipped (Redis down or busy: written again later), deleted (the flow ended)",
      ["result"],
      (c, v) => {
        const r = v.total.redis;
        c.inc({ result: "ok" }, r.writes - r.writeErrors);
        c.inc({ result: "error" }, r.writeErrors);
        c.inc({ result: "skipped" }, r.writesSkipped);
        c.inc({ result: "deleted" }, r.deletes);
      },
    );
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
  const each = (v: HostView, f: (worker: string, s: RelaySnapshot) => void) => {
    for (const s of v.workers) f(String(s.worker), s);
  };
  counter(
    "voice_edge_relay_worker_packets_total",
    "Datagrams by worker and path",
    ["worker", "path"],
    (c, v) =>
      each(v, (worker, s) => {
        for (const [path, packets] of PATHS) c.inc({ worker, path }, s.stats[packets]);
      }),
  );
  counter("voice_edge_relay_worker_bytes_total", "Bytes by worker and path", ["worker", "path"], (c, v) =>
    each(v, (worker, s) => {
      for (const [path, , bytes] of PATHS) c.inc({ worker, path }, s.stats[bytes]);
    }),
  );
  counter("voice_edge_relay_worker_drops_total", "Drops by worker and reason", ["worker", "reason"], (c, v) =>
    each(v, (worker, s) => {
      for (const reason of DROP_REASONS) c.inc({ worker, reason }, s.stats.drops[reason]);
    }),
  );
  counter("voice_edge_relay_worker_flow_events_total", "Flow events by worker", ["worker", "event"], (c, v) =>
    each(v, (worker, s) => {
      for (const [event, field] of FLOW_EVENTS) c.inc({ worker, event }, s.stats[field]);
    }),
  );
  gauge("voice_edge_relay_worker_flows", "Flows in each worker's table", ["worker"], (g, v) =>
    each(v, (worker, s) => g.set({ worker }, s.flows)),
  );
  if (o.redis) {
    counter(
      "voice_edge_relay_worker_redis_lookups_total",
      "Flow record lookups by worker and result",
      ["worker", "result"],
      (c, v) =>
        each(v, (worker, s) => {
          c.inc({ worker, result: "hit" }, s.redis.hits);
          c.inc({ worker, result: "miss" }, s.redis.misses);
          c.inc({ worker, result: "error" }, s.redis.errors);
        }),
    );
    gauge("voice_edge_relay_worker_redis_up", "1 when the worker has Redis ready", ["worker"], (g, v) =>
      each(v, (worker, s) => {
        g.set({ worker }, s.redis.up ? 1 : 0);
      }),
    );
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
