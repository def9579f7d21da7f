/**
 * The workers of one transceiver host, as one session service: new sessions
 * go to the least loaded worker, session ids name their worker, and the host
 * reports itself full (or draining) so the edge can go elsewhere.
 */
import type { AddressSet } from "../relay/config.ts";
import type { SessionInfo } from "./session.ts";
import {
  CapacityError,
  type CreatedSession,
  type CreateSessionRequest,
  type SidebandOpen,
  type WorkerLoad,
} from "./session-host.ts";
import { type HostAddress, type ParsedSessionId, type SessionIds, workerOf } from "./session-id.ts";
import { WorkerGoneError, type WorkerHandle } from "./worker-handle.ts";

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
  /** This host's API address, named in public session ids; set once the API listens. */
  private host: HostAddress | undefined;
  /** Creations in flight per worker, so a burst spreads before loads are reported back. */
  private readonly inFlight: number[];

  private readonly ids: SessionIds | undefined;
  private readonly peers: AddressSet | undefined;

  /**
   * Without `ids`, sessions keep their local ids and no other host is ever named. With `peers`, a
   * signed id naming a host outside them is unknown too (defence in depth should a key leak).
   */
  constructor(cluster: number, workers: WorkerHandle[], ids?: SessionIds, peers?: AddressSet) {
    this.cluster = cluster;
    this.ids = ids;
    this.peers = peers;
    this.workers = workers;
    this.inFlight = workers.map(() => 0);
  }

  /** Session ids will name this host (its API address), so any pod can route a request for them. */
  setHost(host: HostAddress): void {
    this.host = host;
  }

  private publicId(localId: string): string {
    return this.ids && this.host ? this.ids.mint(this.host, localId) : localId;
  }

  /**
   * Where a session id lives: a worker here (its local id), another host of this cluster (only for an
   * id a host of the cluster signed), or nowhere we know.
   */
  resolve(id: string): { local: string } | { remote: HostAddress } | undefined {
    const p: ParsedSessionId | undefined = this.ids
      ? this.ids.open(id)
      : workerOf(id) !== undefined
        ? { local: id }
        : undefined;
    if (!p?.host) return p;
    const here = this.host && p.host.address === this.host.address && p.host.port === this.host.port;
    if (here) return { local: p.local };
    return !this.peers || this.peers.allows(p.host.address, p.host.port) ? { remote: p.host } : undefined;
  }

  private pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const w of this.workers) {
      if (!w.ready()) continue; // dead, being restarted
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

  async createSession(req: CreateSessionRequest, retried = false): Promise<CreatedSession> {
    if (this.draining) throw new CapacityError("this transceiver is draining");
    const w = this.pick();
    if (!w) throw new CapacityError("this transceiver is at capacity");
    this.inFlight[w.index]!++;
    try {
      const created = await w.createSession(req);
      return { ...created, id: this.publicId(created.id) };
    } catch (err) {
      // The worker died under the request (whatever it created died with it): place it again.
      if ((err instanceof WorkerGoneError || !w.ready()) && !retried) return this.createSession(req, true);
      throw err;
    } finally {
      this.inFlight[w.index]!--;
    }
  }

  private owner(localId: string): WorkerHandle | undefined {
    const index = workerOf(localId);
    return index === undefined ? undefined : this.workers[index];
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

  /** The worker of a local session id (sidebands stay with it for their life). */
  workerOf(localId: string): number | undefined {
    return this.owner(localId)?.index;
  }

  async openSideband(localId: string, sideband: number): Promise<SidebandOpen> {
    const w = this.owner(localId);
    return w ? w.openSideband(localId, sideband) : "not-found";
  }

  sidebandIn(localId: string, sideband: number, text: string): void {
    this.owner(localId)?.sidebandIn(localId, sideband, text);
  }

  sidebandGone(localId: string, sideband: number): void {
    this.owner(localId)?.sidebandGone(localId, sideband);
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
