/**
 * A transceiver worker in a child process, driven over IPC (see worker-main.ts).
 * A child that dies is forked again after a backoff; meanwhile the worker is
 * down: out of placement, listing nothing, and the sessions it held are counted
 * as closed with reason "worker_exit" (their WebRTC state died with the process).
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nextRestartDelay } from "../runtime/backoff.ts";
import { missingFlags } from "../runtime/v8-flags.ts";
import { BackendError } from "./bridge/backends.ts";
import type { SidebandSink } from "./bridge/sideband-hub.ts";
import type { Event, Notice, Reply, Request, WorkerInit } from "./ipc.ts";
import type { SessionInfo } from "./session.ts";
import {
  CapacityError,
  type CreatedSession,
  type CreateSessionRequest,
  OfferError,
  type SidebandOpen,
  type WorkerLoad,
  type WorkerStats,
} from "./session-host.ts";
import type { SessionUsage } from "./usage.ts";
import { WorkerGoneError, type WorkerHandle } from "./worker-handle.ts";

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
  child: ChildProcess;
  onExit?: (code: number | null) => void;
  onRespawn?: () => void;
  sidebands?: SidebandSink;
  onUsage?: (usage: SessionUsage) => void;
  /** Times the child died and was forked again. */
  restarts = 0;
  /** Sessions lost with children that died. */
  private lost = 0;
  private up = true;
  private current: WorkerLoad;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private readonly crashes: number[] = [];
  private closing = false;
  private respawnTimer: NodeJS.Timeout | undefined;

  private readonly init: WorkerInit;

  private constructor(init: WorkerInit, child: ChildProcess) {
    this.init = init;
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

  static async start(init: WorkerInit): Promise<ForkedWorker> {
    const w = new ForkedWorker(init, forkChild());
    await w.attach();
    return w;
  }

  /** Drives `this.child`; resolves once it is ready, rejects if it dies or fails before. */
  private attach(): Promise<void> {
    const child = this.child;
    return new Promise((resolve, reject) => {
      let ready = false;
      child.on("message", (m: Reply | Event) => {
        if ("event" in m) {
          if (m.event === "ready") {
            ready = true;
            this.current = m.load;
            this.up = true;
            resolve();
          } else if (m.event === "load") this.current = m.load;
          else if (m.event === "sideband.out") this.sidebands?.send(m.sideband, m.text);
          else if (m.event === "sideband.close") this.sidebands?.close(m.sideband, m.code, m.reason);
          else if (m.event === "usage") this.onUsage?.(m.usage);
          else reject(new Error(`worker ${this.index}: ${m.message}`));
          return;
        }
        this.current = m.load;
        const p = this.pending.get(m.id);
        if (p) {
          this.pending.delete(m.id);
          p.resolve(m);
        }
      });
      // A message sent as the child dies fails with an 'error' event (EPIPE): the exit handles the
      // death; without a listener the error would take this whole host down.
      child.on("error", () => {});
      child.once("exit", (code, signal) => {
        reject(new Error(`worker ${this.index} exited with code ${code} during start`));
        for (const p of this.pending.values()) p.reject(new WorkerGoneError(`worker ${this.index} exited`));
        this.pending.clear();
        if (this.closing || !ready) return;
        this.up = false;
        this.lost += this.current.sessions;
        this.onExit?.(code ?? (signal ? -1 : null));
        this.current = { ...this.current, pid: 0, sessions: 0, endpoint: "" };
        this.respawnLater();
      });
      child.send(this.init);
    });
  }

  private respawnLater(): void {
    const delay = nextRestartDelay(this.crashes, Date.now());
    this.respawnTimer = setTimeout(() => {
      if (this.closing) return;
      this.child = forkChild();
      this.attach().then(
        () => {
          this.restarts++;
          this.onRespawn?.();
        },
        // It died before ready: its exit handler did not reschedule.
        () => this.closing || this.respawnLater(),
      );
    }, delay);
  }

  /** False while the child is dead and not yet forked again and ready. */
  ready(): boolean {
    // Its IPC channel closes before the exit is reported: a dying child is down already.
    return this.up && this.child.connected && !this.closing;
  }

  private call(op: Op, extra: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.up || !this.child.connected)
        return reject(new WorkerGoneError(`worker ${this.index} is not running`));
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, ...extra } as Request, (err) => {
        if (!err) return;
        // Its channel broke: it is dying (the exit follows). Nothing more is placed on it meanwhile.
        this.up = false;
        if (this.pending.delete(id)) reject(new WorkerGoneError(`worker ${this.index} is not running`));
      });
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
    if (!this.up) return Promise.reject(new CapacityError(`worker ${this.index} is restarting`));
    return this.result("create", { req });
  }
  // A down worker holds no sessions: what asks for one finds none.
  async restartSession(sessionId: string, sdp: string): Promise<CreatedSession | undefined> {
    return this.up ? this.result("restart", { sessionId, sdp }) : undefined;
  }
  async endSession(sessionId: string): Promise<boolean> {
    return this.up ? this.result("end", { sessionId }) : false;
  }
  async list(): Promise<SessionInfo[]> {
    return this.up ? this.result("list") : [];
  }
  async openSideband(sessionId: string, sideband: number): Promise<SidebandOpen> {
    return this.up ? this.result("sideband.open", { sessionId, sideband }) : "not-found";
  }
  sidebandIn(sessionId: string, sideband: number, text: string): void {
    this.notify({ notice: "sideband.in", sessionId, sideband, text });
  }
  sidebandGone(sessionId: string, sideband: number): void {
    this.notify({ notice: "sideband.gone", sessionId, sideband });
  }
  /** A message that needs no answer; lost with a worker that is down (its sessions are gone too). */
  private notify(n: Notice): void {
    if (this.up && this.child.connected) this.child.send(n, () => {});
  }
  async stats(): Promise<WorkerStats> {
    const s = await this.result<WorkerStats>("stats");
    return this.lost > 0
      ? { ...s, sessionsClosed: Object.assign(s.sessionsClosed, { worker_exit: this.lost }) }
      : s;
  }
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.respawnTimer);
    if (!this.child.connected) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    await this.call("close").catch(() => {});
    await exited;
  }
}

function forkChild(): ChildProcess {
  return fork(entry, [], {
    execArgv: workerExecArgv(),
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}
