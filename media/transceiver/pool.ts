/**
 * The workers of one transceiver host, as one session service: new sessions
 * go to the least loaded worker, session ids name their worker, and the host
 * reports itself full (or draining) so the edge can go elsewhere.
 */
import type { SessionInfo } from "./session.ts";
import {
  CapacityError,
  type CreatedSession,
  type CreateSessionRequest,
  type WorkerLoad,
} from "./session-host.ts";
import { type HostAddress, hostTag, parseSessionId, publicSessionId } from "./session-id.ts";
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
  /** This host's API address as a session-id tag; set once the API listens. */
  private tag: string | undefined;
  /** Creations in flight per worker, so a burst spreads before loads are reported back. */
  private readonly inFlight: number[];

  constructor(cluster: number, workers: WorkerHandle[]) {
    this.cluster = cluster;
    this.workers = workers;
    this.inFlight = workers.map(() => 0);
  }

  /** Session ids will name this host (its API address), so any pod can route a request for them. */
  setHost(host: HostAddress): void {
    this.tag = hostTag(host);
  }

  private publicId(localId: string): string {
    return this.tag ? publicSessionId(this.tag, localId) : localId;
  }

  /** Where a session id lives: a worker here (its local id), another host, or nowhere we know. */
  resolve(id: string): { local: string } | { remote: HostAddress } | undefined {
    const p = parseSessionId(id);
    if (p) return p.tag === this.tag ? { local: p.local } : { remote: p.host };
    return /^w\d+_[A-Za-z0-9_-]+$/.test(id) ? { local: id } : undefined;
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
      const created = await w.createSession(req);
      return { ...created, id: this.publicId(created.id) };
    } finally {
      this.inFlight[w.index]!--;
    }
  }

  /** Worker session ids are "w<index>_<random>": the owning worker without a lookup table. */
  private owner(localId: string): WorkerHandle | undefined {
    const m = /^w(\d+)_[A-Za-z0-9_-]+$/.exec(localId);
    return m ? this.workers[Number(m[1])] : undefined;
  }

  async restartSession(localId: string, sdp: string): Promise<CreatedSession | undefined> {
    const w = this.owner(localId);
    const r = w ? await w.restartSession(localId, sdp) : undefined;
    return r && { ...r, id: this.publicId(r.id) };
  }

  async endSession(localId: string): Promise<boolean> {
    const w = this.owner(localId);
    return w ? w.endSession(localId) : false;
  }

  async getSession(localId: string): Promise<SessionInfo | undefined> {
    const w = this.owner(localId);
    const s = w ? (await w.list()).find((x) => x.id === localId) : undefined;
    return s && { ...s, id: this.publicId(s.id) };
  }

  async list(): Promise<SessionInfo[]> {
    return (await Promise.all(this.workers.map((w) => w.list())))
      .flat()
      .map((s) => ({ ...s, id: this.publicId(s.id) }));
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
