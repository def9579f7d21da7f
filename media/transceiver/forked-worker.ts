/** A transceiver worker in a child process, driven over IPC (see worker-main.ts). */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { missingFlags } from "../runtime/v8-flags.ts";
import { BackendError } from "./bridge/backends.ts";
import type { Event, Reply, Request, WorkerInit } from "./ipc.ts";
import type { SessionInfo } from "./session.ts";
import {
  CapacityError,
  type CreatedSession,
  type CreateSessionRequest,
  OfferError,
  type WorkerLoad,
  type WorkerStats,
} from "./session-host.ts";
import type { WorkerHandle } from "./worker-handle.ts";

const entry = fileURLToPath(new URL("./worker-main.ts", import.meta.url));

/**
 * The young generation's semi-space cap for workers, in MiB. Left alone, V8
 * grows it with the allocation rate up to a limit that depends on the
 * machine's memory (64 MiB per semi-space on a 24 GiB host): a worker under
 * audio then holds 128 MiB of young generation whatever its session count,
 * and a burst of setups grows it to 32 MiB and more. A worker's garbage is
 * mostly per-packet objects dead within a millisecond: with 8 MiB, scavenges
 * are about three times as frequent and half as long, and CPU per echoed
 * packet stayed within bench/transceiver's noise (~2 %). It is also the same
 * on every machine. See docs/transceiver.md, "Memory".
 */
export const WORKER_SEMI_SPACE_MIB = 8;

/**
 * Node options of a worker: the parent's, after ours so that theirs win; and
 * none of ours if NODE_OPTIONS sets the same (command-line options would beat it).
 */
export function workerExecArgv(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS,
): string[] {
  return [
    ...missingFlags([`--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`], execArgv, nodeOptions),
    ...execArgv,
  ];
}
type Op = Request extends infer R ? (R extends { op: infer O } ? O : never) : never;

export class ForkedWorker implements WorkerHandle {
  readonly index: number;
  readonly child: ChildProcess;
  onExit?: (code: number | null) => void;
  private current: WorkerLoad;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private closing = false;

  private constructor(init: WorkerInit, child: ChildProcess) {
    this.index = init.index;
    this.child = child;
    this.current = {
      index: init.index,
      pid: child.pid ?? 0,
      sessions: 0,
      capacity: init.capacity,
      endpoint: "",
    };
  }

  static start(init: WorkerInit): Promise<ForkedWorker> {
    const child = fork(entry, [], {
      execArgv: workerExecArgv(),
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const w = new ForkedWorker(init, child);
    return new Promise((resolve, reject) => {
      child.on("message", (m: Reply | Event) => {
        if ("event" in m) {
          if (m.event === "ready") {
            w.current = m.load;
            resolve(w);
          } else if (m.event === "load") w.current = m.load;
          else reject(new Error(`worker ${init.index}: ${m.message}`));
          return;
        }
        w.current = m.load;
        const p = w.pending.get(m.id);
        if (p) {
          w.pending.delete(m.id);
          p.resolve(m);
        }
      });
      child.once("exit", (code) => {
        reject(new Error(`worker ${init.index} exited with code ${code} during start`));
        for (const p of w.pending.values()) p.reject(new Error(`worker ${init.index} exited`));
        w.pending.clear();
        if (!w.closing) w.onExit?.(code);
      });
      child.send(init);
    });
  }

  private call(op: Op, extra: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`worker ${this.index} is not running`));
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, ...extra } as Request);
    });
  }

  private async result<T>(op: Op, extra?: Record<string, unknown>): Promise<T> {
    const r = await this.call(op, extra);
    if (r.ok) return r.result as T;
    if (r.error.kind === "offer") throw new OfferError(r.error.message);
    if (r.error.kind === "capacity") throw new CapacityError(r.error.message);
    if (r.error.kind === "backend")
      throw new BackendError(r.error.status ?? 503, r.error.code ?? "backend_unavailable", r.error.message);
    throw new Error(r.error.message);
  }

  load(): WorkerLoad {
    return this.current;
  }
  createSession(req: CreateSessionRequest): Promise<CreatedSession> {
    return this.result("create", { req });
  }
  restartSession(sessionId: string, sdp: string): Promise<CreatedSession | undefined> {
    return this.result("restart", { sessionId, sdp });
  }
  endSession(sessionId: string): Promise<boolean> {
    return this.result("end", { sessionId });
  }
  list(): Promise<SessionInfo[]> {
    return this.result("list");
  }
  stats(): Promise<WorkerStats> {
    return this.result("stats");
  }
  async close(): Promise<void> {
    this.closing = true;
    if (!this.child.connected) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    await this.call("close").catch(() => {});
    await exited;
  }
}
