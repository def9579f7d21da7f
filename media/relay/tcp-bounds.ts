/**
 * The bounds of the ICE-TCP listener (RFC 6544 passive candidate at an
 * ingress), decided without sockets or clocks: which connections to take,
 * when one has taken too long, and whether a reply still fits its send
 * buffer. The TCP shell (io-tcp.ts) asks, performs and counts.
 */

/** Why the relay closed a TCP connection (or the peer did). docs/relay.md explains each one. */
export const TCP_CLOSE_REASONS = [
  // Refused at accept.
  "per-address",
  "server-full",
  // Before the connection was a flow.
  "first-frame-timeout",
  "first-frame",
  // Framing (any time).
  "frame-timeout",
  "oversize",
  "empty-frame",
  // A flow's end.
  "idle",
  "ended",
  "peer",
  "error",
  "closing",
] as const;

export type TcpCloseReason = (typeof TCP_CLOSE_REASONS)[number];

export interface TcpLimits {
  /** Largest frame (payload bytes) a client may send; a larger length closes the connection. */
  maxFrame: number;
  /** A connection whose first frame has not opened a flow by then is closed (ms). */
  firstFrameTimeoutMs: number;
  /** A frame that has begun to arrive must be complete within this long (ms): slowloris. */
  frameTimeoutMs: number;
  /** Connections at once from one client IP address. */
  maxPerAddress: number;
  /** Bytes queued toward a client beyond which replies are dropped, not buffered (real-time media). */
  maxBufferedBytes: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = {
  maxFrame: 1500,
  firstFrameTimeoutMs: 3000,
  frameTimeoutMs: 2000,
  maxPerAddress: 32,
  maxBufferedBytes: 16 * 1024,
};

/** Connections per client IP address, against limits.maxPerAddress. */
export class TcpAdmission {
  private readonly perAddress = new Map<string, number>();
  private readonly max: number;

  constructor(maxPerAddress: number) {
    if (!Number.isInteger(maxPerAddress) || maxPerAddress < 1)
      throw new Error(`max connections per address ${maxPerAddress} is not a positive integer`);
    this.max = maxPerAddress;
  }

  /** Takes a connection from `address` (true), or refuses it: that address has max already. */
  admit(address: string): boolean {
    const n = this.perAddress.get(address) ?? 0;
    if (n >= this.max) return false;
    this.perAddress.set(address, n + 1);
    return true;
  }

  /** An admitted connection from `address` closed. */
  release(address: string): void {
    const n = this.perAddress.get(address) ?? 0;
    if (n <= 1) this.perAddress.delete(address);
    else this.perAddress.set(address, n - 1);
  }

  /** Connections from `address` now. */
  count(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }
}

/** What the deadline check reads of a connection. */
export interface TcpConnectionState {
  acceptedAt: number;
  /** Whether its first frame opened a flow. */
  opened: boolean;
  /** When the frame now partly received began (ms), or -1 (FrameDecoder.partialSince). */
  partialSince: number;
}

/** Whether a connection has run out of time at `now`: why to close it, or undefined. */
export function overdue(c: TcpConnectionState, now: number, limits: TcpLimits): TcpCloseReason | undefined {
  if (!c.opened && now - c.acceptedAt >= limits.firstFrameTimeoutMs) return "first-frame-timeout";
  if (c.partialSince >= 0 && now - c.partialSince >= limits.frameTimeoutMs) return "frame-timeout";
  return undefined;
}

/** Whether a reply of `frameBytes` may be queued behind `buffered` bytes still unsent (else: drop it). */
export function roomFor(buffered: number, frameBytes: number, limits: TcpLimits): boolean {
  return buffered + frameBytes <= limits.maxBufferedBytes;
}
