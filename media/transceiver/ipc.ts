/** Messages between the session API process and forked transceiver workers. */
import type { SessionInfo } from "./session.ts";
import type {
  CreatedSession,
  CreateSessionRequest,
  WorkerLoad,
  WorkerOptions,
  WorkerStats,
} from "./session-host.ts";

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
  | { id: number; op: "stats" }
  | { id: number; op: "close" };

export type ErrorKind = "offer" | "capacity" | "backend" | "internal";

export type Result = CreatedSession | undefined | boolean | SessionInfo[] | WorkerStats | null;

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
  | { event: "fatal"; message: string };
