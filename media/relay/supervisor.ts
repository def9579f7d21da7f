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
import { type AdminServer, startAdmin } from "./admin.ts";
import type { IoBackend } from "./io.ts";
import {
  addCounters,
  type HostView,
  maxCounters,
  type RelaySnapshot,
  relayRegistry,
  sumSnapshots,
} from "./metrics.ts";
import { summary } from "./server.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./worker-process.ts";

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
  const baseMs = o.restartBaseMs ?? 100;
  let stopping = false;
  let restarts = 0;
  let publicAt: Endpoint = o.init.listen;
  /** Counters of workers that died (their last snapshot), so host totals survive restarts. */
  let retired: RelaySnapshot | undefined;
  /** The totals reported last: never reported lower. */
  let reported: RelaySnapshot | undefined;
  let nextId = 1;
  const waiting = new Map<number, (s: RelaySnapshot | undefined) => void>();
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
          resolve();
        } else if (m.type === "failed") {
          reject(new Error(`relay worker ${slot.index}: ${m.error}`));
        } else if (m.type === "snapshot") {
          slot.last = m.snapshot;
          waiting.get(m.id)?.(m.snapshot);
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
        // Keep what it counted; it is gone.
        if (slot.last) {
          retired ??= sumSnapshots([], slot.last);
          addCounters(retired, slot.last);
          retired.flows = 0;
        }
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
    const delay = nextRestartDelay(slot.crashes, Date.now(), { ...RESTART_BACKOFF, baseMs });
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

  const snapshotOf = (slot: Slot): Promise<RelaySnapshot | undefined> => {
    const child = slot.child;
    if (!child?.connected) return Promise.resolve(slot.last);
    const id = nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        waiting.delete(id);
        resolve(slot.last);
      }, 1000);
      waiting.set(id, (s) => {
        clearTimeout(t);
        waiting.delete(id);
        resolve(s);
      });
      child.send({ type: "snapshot", id } satisfies ToWorker);
    });
  };

  const view = async (): Promise<HostView> => {
    const live = (await Promise.all(slots.map(snapshotOf))).filter(
      (s): s is RelaySnapshot => s !== undefined,
    );
    const template = live[0] ?? retired ?? reported!;
    const total = sumSnapshots(retired ? [retired, ...live] : live, template);
    if (reported) maxCounters(total, reported);
    reported = structuredClone(total);
    return { workers: live, total, restarts };
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

  log.info(
    {
      tier: o.init.tier,
      public: formatEndpoint(publicAt),
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
    },
    "relay listening",
  );

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
    const template = finals[0] ?? retired ?? reported;
    const total = template ? sumSnapshots(retired ? [retired, ...finals] : finals, template) : undefined;
    log.info(total ? { flows: 0, ...summary(total.stats) } : {}, "relay closed");
  };

  return {
    get publicAddress() {
      return publicAt;
    },
    adminAddress: admin?.address,
    pids: () => slots.map((s) => s.child?.pid ?? 0),
    restarts: () => restarts,
    view,
    stop,
  };
}
