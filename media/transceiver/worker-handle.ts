/**
 * A worker as the session API sees it: the same calls whether the worker
 * runs in this process (tests, one-core hosts) or in a child process.
 */
import type { SidebandSink } from "./bridge/sideband-hub.ts";
import type { SessionInfo } from "./session.ts";
import type {
  CreatedSession,
  CreateSessionRequest,
  SessionHost,
  SidebandOpen,
  WorkerLoad,
  WorkerStats,
} from "./session-host.ts";
import type { SessionUsage } from "./usage.ts";

/** The worker process died (or its channel broke) under a call: the call may be placed again. */
export class WorkerGoneError extends Error {}

export interface WorkerHandle {
  readonly index: number;
  /** Last known load; kept current by the worker's own reports. */
  load(): WorkerLoad;
  createSession(req: CreateSessionRequest): Promise<CreatedSession>;
  endSession(id: string): Promise<boolean>;
  restartSession(id: string, sdp: string): Promise<CreatedSession | undefined>;
  list(): Promise<SessionInfo[]>;
  stats(): Promise<WorkerStats>;
  /** A sideband (a host-wide id) attaches to a session of this worker. */
  openSideband(sessionId: string, sideband: number): Promise<SidebandOpen>;
  /** A sideband's client event, and its socket's end: no answer (errors come back as events). */
  sidebandIn(sessionId: string, sideband: number, text: string): void;
  sidebandGone(sessionId: string, sideband: number): void;
  /** Set by the host: where the worker's events for sidebands go. */
  sidebands?: SidebandSink;
  /** Set by the host's metrics: told what each ended session used. */
  onUsage?: (usage: SessionUsage) => void;
  close(): Promise<void>;
  /** False while the worker is dead and being restarted: it then gets no new sessions. */
  ready(): boolean;
  /** Set by the host: called when the worker dies unexpectedly (it is then restarted). */
  onExit?: (code: number | null) => void;
  /** Set by the host: called when a worker that died runs again. */
  onRespawn?: () => void;
  /** Times the worker died and was restarted. */
  readonly restarts: number;
}

export class InProcessWorker implements WorkerHandle {
  readonly index: number;
  readonly worker: SessionHost;
  onExit?: (code: number | null) => void;
  /** It shares this process: if it dies, so does everything. */
  readonly restarts = 0;
  sidebands?: SidebandSink;
  onUsage?: (usage: SessionUsage) => void;

  constructor(worker: SessionHost) {
    this.worker = worker;
    this.index = worker.options.index;
    // The host sets its sink on this handle later; the worker's events find it here.
    worker.onUsage = (u) => this.onUsage?.(u);
    worker.sidebands = {
      send: (sideband, text) => this.sidebands?.send(sideband, text),
      close: (sideband, code, reason) => this.sidebands?.close(sideband, code, reason),
    };
  }
  ready(): boolean {
    return true;
  }
  load(): WorkerLoad {
    return this.worker.load();
  }
  createSession(req: CreateSessionRequest): Promise<CreatedSession> {
    return this.worker.createSession(req);
  }
  endSession(id: string): Promise<boolean> {
    return this.worker.endSession(id);
  }
  restartSession(id: string, sdp: string): Promise<CreatedSession | undefined> {
    return this.worker.restartSession(id, sdp);
  }
  list(): Promise<SessionInfo[]> {
    return this.worker.list();
  }
  stats(): Promise<WorkerStats> {
    return this.worker.stats();
  }
  async openSideband(sessionId: string, sideband: number): Promise<SidebandOpen> {
    return this.worker.openSideband(sessionId, sideband);
  }
  sidebandIn(sessionId: string, sideband: number, text: string): void {
    this.worker.sidebandMessage(sessionId, sideband, text);
  }
  sidebandGone(sessionId: string, sideband: number): void {
    this.worker.sidebandGone(sessionId, sideband);
  }
  close(): Promise<void> {
    return this.worker.close();
  }
}
