/** Messages between the session API process and forked transceiver workers. */
import type { SessionInfo } from "./session.ts";
import type { CreatedSession, CreateSessionRequest, WorkerLoad, WorkerStats } from "./worker.ts";

export interface WorkerInit {
  index: number;
  cluster: number;
  /** Hint keys in their configuration form (id:secret[,id:secret]). */
  keys: string;
  bindHost: string;
  bindPort: number;
  advertiseHost?: string;
  ingress: { address: string; port: number };
  capacity: number;
  silenceTimeoutMs: number;
}

export type Request =
  | { id: number; op: "create"; req: CreateSessionRequest }
  | { id: number; op: "end"; sessionId: string }
  | { id: number; op: "list" }
  | { id: number; op: "stats" }
  | { id: number; op: "close" };

export type ErrorKind = "offer" | "capacity" | "internal";

export type Result = CreatedSession | boolean | SessionInfo[] | WorkerStats | null;

export type Reply =
  | { id: number; ok: true; result: Result; load: WorkerLoad }
  | { id: number; ok: false; error: { kind: ErrorKind; message: string }; load: WorkerLoad };

export type Event =
  | { event: "ready"; load: WorkerLoad }
  | { event: "load"; load: WorkerLoad }
  | { event: "fatal"; message: string };
