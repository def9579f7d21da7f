/**
 * A multi-core relay: N worker processes (worker-process.ts) bind the same public
 * UDP port with SO_REUSEPORT, so the kernel spreads clients over them by
 * their 4-tuple and keeps each client on one worker. Each worker has its own
 * internal socket (port+index when --internal names a port), so replies come
 * back to the worker that owns the flow. Workers share nothing but Redis.
 *
 * The supervisor restarts a worker that dies (its clients move to the other
 * workers, and back: they recover through Redis), serves /metrics and
 * /healthz for the host, and on SIGTERM drains every worker.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Endpoint } from "../../shared/hint.ts";
import { formatEndpoint } from "../../shared/ip.ts";
import { nextRestartDelay, RESTART_BACKOFF } from "../runtime/backoff.ts";
import type { Logger } from "../runtime/log.ts";
import type { IoBackend } from "../udp-batch/io-choice.ts";
import { type AdminServer, startAdmin } from "./admin.ts";
import { HostTotals } from "./host-totals.ts";
import { type HostView, type RelaySnapshot, relayRegistry } from "./metrics.ts";
import { summary } from "./server.ts";
import type { WorkerInit } from "./worker-init.ts";
import type { FromWorker, ToWorker } from "./worker-process.ts";

const WORKER = fileURLToPath(new URL("./worker-process.ts", import.meta.url));

export interface SupervisorOptions {
  /** Everything but the index: the same for every worker. */
  init: Omit<WorkerInit, "worker">;
  workers: number;
  admin: Endpoint | undefined;
  log: Logger;
  /** Restart delay after a worker died: doubles per crash within a minute, from 100 ms to 5 s. */
  restartBaseMs?: number;
}

export interface Supervisor {
  publicAddress: Endpoint;
  /** The workers' ICE-TCP listener (one port, SO_REUSEPORT), if any. */
  tcpAddress: Endpoint | undefined;
  adminAddress: Endpoint | undefined;
  /** Worker pids now (index -> pid), for tests and operators. */
  pids(): number[];
  restarts(): number;
  view(): Promise<HostView>;
  /** Drains every worker (timeoutMs 0: closes at once), waits for them, logs the totals. */
  stop(timeoutMs: number): Promise<void>;
}

interface Slot {
  index: number;
  child: ChildProcess | undefined;
  last: RelaySnapshot | undefined;
  internal: Endpoint | undefined;
  io?: IoBackend;
  crashes: number[];
}

export async function startSupervisor(o: SupervisorOptions): Promise<Supervisor> {
  const log = o.log;
  const backoff = { ...RESTART_BACKOFF, baseMs: o.restartBaseMs ?? RESTART_BACKOFF.baseMs };
  let stopping = false;
  let restarts = 0;
  let publicAt: Endpoint = o.init.listen;
  let tcpAt: Endpoint | undefined = o.init.tcp?.listen;
  const totals = new HostTotals();
  const asks = new SnapshotRequests();
  const finals: RelaySnapshot[] = [];

  const slots: Slot[] = Array.from({ length: o.workers }, (_, index) => ({
    index,
    child: undefined,
    last: undefined,
    internal: undefined,
    crashes: [],
  }));

  const initOf = (index: number): WorkerInit => ({
    ...o.init,
    worker: index,
    listen: publicAt,
    tcp: o.init.tcp && tcpAt ? { ...o.init.tcp, listen: tcpAt } : undefined,
    internal:
      o.init.internal.port === 0
        ? o.init.internal
        : { ...o.init.internal, port: o.init.internal.port + index },
  });

  /** Forks worker `index`; resolves once it listens. */
  const spawnWorker = (slot: Slot): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = fork(WORKER, [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "json",
      });
      slot.child = child;
      let ready = false;
      child.on("message", (m: FromWorker) => {
        if (m.type === "ready") {
          ready = true;
          slot.internal = m.internal;
          slot.io = m.io;
          if (publicAt.port === 0) publicAt = m.public;
          if (tcpAt?.port === 0 && m.tcp) tcpAt = m.tcp;
          resolve();
        } else if (m.type === "failed") {
          reject(new Error(`relay worker ${slot.index}: ${m.error}`));
        } else if (m.type === "snapshot") {
          slot.last = m.snapshot;
          asks.answered(m.id, m.snapshot);
        } else if (m.type === "closed") {
          slot.last = m.snapshot;
          finals.push(m.snapshot);
        }
      });
      child.once("exit", (code, signal) => {
        if (slot.child === child) slot.child = undefined;
        if (!ready) {
          reject(new Error(`relay worker ${slot.index} exited (${signal ?? code}) before listening`));
          return;
        }
        if (stopping) return;
        if (slot.last) totals.retire(slot.last);
        slot.last = undefined;
        log.warn(
          { worker: slot.index, pid: child.pid, code, signal },
          "relay worker died: restarting it (its clients recover through Redis meanwhile)",
        );
        restartLater(slot);
      });
      child.send({ type: "init", init: initOf(slot.index) } satisfies ToWorker);
    });

  /** Restarts a slot after a backoff that doubles per crash within a minute (100 ms .. 5 s), until it runs. */
  const restartLater = (slot: Slot) => {
    const delay = nextRestartDelay(slot.crashes, Date.now(), backoff);
    setTimeout(() => {
      if (stopping) return;
      restarts++;
      spawnWorker(slot).then(
        () => log.info({ worker: slot.index, pid: slot.child?.pid }, "relay worker restarted"),
        (err: Error) => {
          log.error(
            { worker: slot.index, err: err.message, retryInMs: delay * 2 },
            "relay worker restart failed",
          );
          restartLater(slot);
        },
      );
    }, delay);
  };

  const killAll = () => {
    for (const s of slots) s.child?.kill("SIGKILL");
  };
  try {
    // The first worker resolves port 0; the others join it on that port.
    await spawnWorker(slots[0]!);
    await Promise.all(slots.slice(1).map(spawnWorker));
  } catch (err) {
    stopping = true;
    killAll();
    throw err;
  }

  const snapshotOf = (slot: Slot): Promise<RelaySnapshot | undefined> =>
    slot.child?.connected ? asks.ask(slot.child, slot.last) : Promise.resolve(slot.last);

  const view = async (): Promise<HostView> => {
    const live = (await Promise.all(slots.map(snapshotOf))).filter(
      (s): s is RelaySnapshot => s !== undefined,
    );
    return { workers: live, total: totals.total(live), restarts };
  };

  let admin: AdminServer | undefined;
  if (o.admin) {
    try {
      admin = await startAdmin(o.admin, relayRegistry(view, { redis: o.init.redis !== undefined }), () => {
        const up = slots.filter((s) => s.child?.connected).length;
        return { ok: !stopping && up > 0, workers: up, ...(stopping ? { draining: true } : {}) };
      });
    } catch (err) {
      stopping = true;
      killAll();
      throw err;
    }
  }

  log.info(listening(o, publicAt, tcpAt, slots, admin), "relay listening");

  const stop = async (timeoutMs: number) => {
    if (stopping) return;
    stopping = true;
    log.info(
      { workers: o.workers, timeoutMs },
      timeoutMs > 0 ? "relay draining: no new flows" : "relay closing",
    );
    const exits = slots.map((s) =>
      s.child && s.child.exitCode === null && s.child.signalCode === null
        ? new Promise<void>((r) => s.child!.once("exit", () => r()))
        : Promise.resolve(),
    );
    for (const s of slots)
      if (s.child?.connected) s.child.send({ type: "drain", timeoutMs } satisfies ToWorker);
    const hard = setTimeout(killAll, timeoutMs + 5000);
    await Promise.all(exits);
    clearTimeout(hard);
    await admin?.close();
    const total = totals.final(finals);
    log.info(total ? { flows: 0, ...summary(total.stats) } : {}, "relay closed");
  };

  return {
    get publicAddress() {
      return publicAt;
    },
    get tcpAddress() {
      return tcpAt;
    },
    adminAddress: admin?.address,
    pids: () => slots.map((s) => s.child?.pid ?? 0),
    restarts: () => restarts,
    view,
    stop,
  };
}

/** What the "relay listening" line of a supervised relay says. */
function listening(
  o: SupervisorOptions,
  publicAt: Endpoint,
  tcpAt: Endpoint | undefined,
  slots: Slot[],
  admin: AdminServer | undefined,
): Record<string, unknown> {
  return {
    tier: o.init.tier,
    public: formatEndpoint(publicAt),
    ...(tcpAt ? { tcp: formatEndpoint(tcpAt) } : {}),
    internal: slots.map((s) => (s.internal ? formatEndpoint(s.internal) : "?")),
    admin: admin ? formatEndpoint(admin.address) : "off",
    ...(o.init.tier === "cluster" ? { cluster: o.init.cluster } : {}),
    ...(o.init.clusters
      ? { clusters: o.init.clusters.map(([id, at]) => `${id}=${formatEndpoint(at)}`).join(",") }
      : {}),
    ...(o.init.ingresses ? { ingresses: o.init.ingresses } : {}),
    workers: o.workers,
    io: [...new Set(slots.map((s) => s.io ?? "?"))].join(","),
    pids: slots.map((s) => s.child?.pid),
    redis: o.init.redis ? "on" : "off",
    idleTimeoutMs: o.init.idleTimeoutMs,
    maxFlows: o.init.maxFlows,
  };
}

/** Snapshot requests to workers over IPC, answered by id; a worker silent for 1 s counts as its last snapshot. */
class SnapshotRequests {
  private nextId = 1;
  private readonly waiting = new Map<number, (s: RelaySnapshot) => void>();

  ask(child: ChildProcess, fallback: RelaySnapshot | undefined): Promise<RelaySnapshot | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve(fallback);
      }, 1000);
      this.waiting.set(id, (s) => {
        clearTimeout(t);
        this.waiting.delete(id);
        resolve(s);
      });
      child.send({ type: "snapshot", id } satisfies ToWorker);
    });
  }

  answered(id: number, snapshot: RelaySnapshot): void {
    this.waiting.get(id)?.(snapshot);
  }
}
