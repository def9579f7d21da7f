/**
 * The workers of one transceiver host, as one session service: new sessions
 * go to the least loaded worker, session ids name their worker, and the host
 * reports itself full (or draining) so the edge can go elsewhere.
 */
import type { SessionInfo } from "./session.ts";
import { CapacityError, type CreatedSession, type CreateSessionRequest, type WorkerLoad } from "./worker.ts";
import type { WorkerHandle } from "./worker-handle.ts";

export interface Health {
  status: "ok" | "draining";
  cluster: number;
  sessions: number;
  capacity: number;
  full: boolean;
  workers: WorkerLoad[];
}

export class TransceiverPool {
  readonly cluster: number;
  readonly workers: WorkerHandle[];
  draining = false;
  /** Creations in flight per worker, so a burst spreads before loads are reported back. */
  private readonly inFlight: number[];

  constructor(cluster: number, workers: WorkerHandle[]) {
    this.cluster = cluster;
    this.workers = workers;
    this.inFlight = workers.map(() => 0);
  }

  private pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const w of this.workers) {
      const l = w.load();
      const used = l.sessions + this.inFlight[w.index]!;
      if (used >= l.capacity) continue;
      const ratio = used / l.capacity;
      if (ratio < bestLoad) {
        best = w;
        bestLoad = ratio;
      }
    }
    return best;
  }

  async createSession(req: CreateSessionRequest): Promise<CreatedSession> {
    if (this.draining) throw new CapacityError("this transceiver is draining");
    const w = this.pick();
    if (!w) throw new CapacityError("this transceiver is at capacity");
    this.inFlight[w.index]!++;
    try {
      return await w.createSession(req);
    } finally {
      this.inFlight[w.index]!--;
    }
  }

  /** Session ids are "w<index>_<random>": the owning worker without a lookup table. */
  private owner(id: string): WorkerHandle | undefined {
    const m = /^w(\d+)_[A-Za-z0-9_-]+$/.exec(id);
    return m ? this.workers[Number(m[1])] : undefined;
  }

  async endSession(id: string): Promise<boolean> {
    const w = this.owner(id);
    return w ? w.endSession(id) : false;
  }

  async getSession(id: string): Promise<SessionInfo | undefined> {
    const w = this.owner(id);
    return w ? (await w.list()).find((s) => s.id === id) : undefined;
  }

  async list(): Promise<SessionInfo[]> {
    return (await Promise.all(this.workers.map((w) => w.list()))).flat();
  }

  health(): Health {
    const workers = this.workers.map((w) => w.load());
    const sessions = workers.reduce((n, w) => n + w.sessions, 0);
    const capacity = workers.reduce((n, w) => n + w.capacity, 0);
    return {
      status: this.draining ? "draining" : "ok",
      cluster: this.cluster,
      sessions,
      capacity,
      full: this.draining || sessions >= capacity,
      workers,
    };
  }

  close(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => w.close()));
  }
}
