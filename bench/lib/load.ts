/** What a load run is asked and what it reports, whichever generator runs it. */

export interface LoadSpec {
  port: number;
  clients: number;
  size: number;
  /** Closed loop: packets in flight (max rate). */
  window?: number;
  /** Open loop: round trips per second in total. */
  rate?: number;
  durationS: number;
  warmupS: number;
  /** Sent once by every client before the run (a STUN request that opens its flow). */
  firstPayload?: Uint8Array;
}

export interface LoadResult {
  sent: number;
  recvd: number;
  lostPct: number;
  rxPps: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

/** The command-line options every relay load benchmark takes (node:util parseArgs shape). */
export const LOAD_OPTIONS = {
  duration: { type: "string", default: "3" },
  reps: { type: "string", default: "3" },
  clients: { type: "string", default: "1000" },
  size: { type: "string", default: "200" },
} as const;
