/**
 * The host's side of the sidebands: host-wide sideband ids, each with the
 * worker and session it is attached to and its WebSocket. Workers send events
 * by id (SidebandSink); until the upgrade completes they wait here, and a
 * sideband that does not read loses events (counted) instead of growing the
 * socket's buffer without bound. No socket code here: the route
 * (api/sideband.ts) hands in anything that can send and close.
 */
import type { SidebandSink } from "./bridge/sideband-hub.ts";

/** What the table needs of a WebSocket (ws's WebSocket is one). */
export interface SidebandSocket {
  readonly bufferedAmount: number;
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Events dropped once this much is waiting in a sideband's socket. */
export const SIDEBAND_MAX_BUFFERED = 4 << 20;
/** Events kept for a sideband whose upgrade is still completing. */
const PENDING_MAX = 256;
/** The close of sidebands whose worker died: 1011, as the session died with it. */
export const WORKER_EXIT_CLOSE = { code: 1011, reason: "call ended: worker_exit" };

interface Entry {
  worker: number;
  session: string;
  socket: SidebandSocket | undefined;
  pending: string[];
  /** The call closed the sideband before its socket was there. */
  closing: { code: number; reason: string } | undefined;
}

export interface SidebandSocketStats {
  attached: number;
  opened: number;
  eventsOut: number;
  eventsDropped: number;
  eventsIn: number;
}

export class SidebandSockets implements SidebandSink {
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;
  readonly stats: SidebandSocketStats = {
    attached: 0,
    opened: 0,
    eventsOut: 0,
    eventsDropped: 0,
    eventsIn: 0,
  };

  /** A new sideband id for a session of `worker`, before the worker is asked. */
  reserve(worker: number, session: string): number {
    const id = this.nextId++;
    this.entries.set(id, { worker, session, socket: undefined, pending: [], closing: undefined });
    return id;
  }

  /** The session a sideband is attached to. */
  sessionOf(id: number): string | undefined {
    return this.entries.get(id)?.session;
  }

  /** The upgrade completed: what waited goes out, then a close that came meanwhile. */
  open(id: number, socket: SidebandSocket): boolean {
    const e = this.entries.get(id);
    if (!e) {
      socket.close(WORKER_EXIT_CLOSE.code, WORKER_EXIT_CLOSE.reason);
      return false;
    }
    e.socket = socket;
    this.stats.opened++;
    this.stats.attached = this.entries.size;
    for (const text of e.pending) this.send(id, text);
    e.pending.length = 0;
    if (e.closing) this.close(id, e.closing.code, e.closing.reason);
    return true;
  }

  send(id: number, text: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    const s = e.socket;
    if (!s) {
      if (e.pending.length < PENDING_MAX) e.pending.push(text);
      else this.stats.eventsDropped++;
      return;
    }
    if (s.bufferedAmount > SIDEBAND_MAX_BUFFERED) {
      this.stats.eventsDropped++;
      return;
    }
    this.stats.eventsOut++;
    s.send(text);
  }

  /** The call closes the sideband. */
  close(id: number, code: number, reason: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    if (!e.socket) {
      e.closing = { code, reason };
      return;
    }
    this.entries.delete(id);
    this.stats.attached = this.entries.size;
    e.socket.close(code, reason);
  }

  /** The sideband's socket is gone, or it never opened: forget it. */
  remove(id: number): Entry | undefined {
    const e = this.entries.get(id);
    this.entries.delete(id);
    this.stats.attached = this.entries.size;
    return e;
  }

  /** A worker died: its sessions did, and their sidebands close. */
  workerGone(worker: number): void {
    for (const [id, e] of this.entries)
      if (e.worker === worker) this.close(id, WORKER_EXIT_CLOSE.code, WORKER_EXIT_CLOSE.reason);
  }
}
