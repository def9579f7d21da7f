/**
 * A worker's bridge counters for /metrics: live sessions plus what closed
 * sessions left behind, and the worker's pacer.
 */
import type { BridgeStats } from "./bridge.ts";
import type { PacerStats } from "./pacer.ts";

export interface BridgeTotals {
  sessions: number;
  /** Backend links that failed for good (or never opened: backend_unavailable), by the error code the client got. */
  backendFailures: Record<string, number>;
  reconnects: number;
  framesToBackend: number;
  framesToBackendDropped: number;
  framesToClient: number;
  clears: number;
  decodeErrors: number;
  pacer: PacerStats;
}

type Counters = Omit<BridgeTotals, "sessions" | "pacer" | "backendFailures">;

const zero = (): Counters => ({
  reconnects: 0,
  framesToBackend: 0,
  framesToBackendDropped: 0,
  framesToClient: 0,
  clears: 0,
  decodeErrors: 0,
});

function add(c: Counters, s: BridgeStats): void {
  c.reconnects += s.reconnects;
  c.framesToBackend += s.link.audioFramesOut;
  c.framesToBackendDropped += s.link.audioFramesDropped;
  c.framesToClient += s.output.framesSent;
  c.clears += s.output.clears;
  c.decodeErrors += s.decodeErrors;
}

export class BridgeLedger {
  private readonly closed = zero();
  private readonly failures: Record<string, number> = {
    backend_unavailable: 0,
    backend_disconnected: 0,
    backend_stalled: 0,
    backend_protocol_error: 0,
  };

  /** A session's bridge closed: keep its counts. */
  record(s: BridgeStats): void {
    add(this.closed, s);
    if (s.failure) this.failures[s.failure] = (this.failures[s.failure] ?? 0) + 1;
  }

  totals(live: BridgeStats[], pacer: PacerStats): BridgeTotals {
    const c = { ...this.closed };
    for (const s of live) add(c, s);
    return { sessions: live.length, backendFailures: { ...this.failures }, ...c, pacer: { ...pacer } };
  }
}
