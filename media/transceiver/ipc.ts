/** Messages between the session API process and forked transceiver workers. */
import type { SessionInfo } from "./session.ts";
import type {
  CreatedSession,
  CreateSessionRequest,
  SidebandOpen,
  WorkerLoad,
  WorkerOptions,
  WorkerStats,
} from "./session-host.ts";
import type { SessionUsage } from "./usage.ts";

/** WorkerOptions as they cross the process boundary: keys in their configuration form (id:secret[,id:secret]). */
export type WorkerInit = Omit<WorkerOptions, "keys" | "encapKeys" | "log"> & {
  keys: string;
  encapKeys: string;
};

export type Request =
  | { id: number; op: "create"; req: CreateSessionRequest }
  | { id: number; op: "end"; sessionId: string }
  | { id: number; op: "restart"; sessionId: string; sdp: string }
  | { id: number; op: "list" }
  | { id: number; op: "sideband.open"; sessionId: string; sideband: number }
  | { id: number; op: "stats" }
  | { id: number; op: "close" };

export type ErrorKind = "offer" | "capacity" | "backend" | "internal";

/**
 * Host to worker, no reply: a sideband's client event, and its socket's end. They travel the same
 * channel as requests, so a worker takes a sideband's events in the order they were sent.
 */
export type Notice =
  | { notice: "sideband.in"; sessionId: string; sideband: number; text: string }
  | { notice: "sideband.gone"; sessionId: string; sideband: number };

export type Result = CreatedSession | undefined | boolean | SessionInfo[] | WorkerStats | SidebandOpen | null;

export type Reply =
  | { id: number; ok: true; result: Result; load: WorkerLoad }
  | {
      id: number;
      ok: false;
      /** status and code: a BackendError's (kind "backend"). */
      error: { kind: ErrorKind; message: string; status?: 400 | 502 | 503; code?: string };
      load: WorkerLoad;
    };

export type Event =
  | { event: "ready"; load: WorkerLoad }
  | { event: "load"; load: WorkerLoad }
  | { event: "fatal"; message: string }
  /** A server event for a sideband, and a sideband the call closes (sideband-hub.ts). */
  | { event: "sideband.out"; sideband: number; text: string }
  | { event: "sideband.close"; sideband: number; code: number; reason: string }
  /** A session ended: what it used (usage.ts). */
  | { event: "usage"; usage: SessionUsage };
