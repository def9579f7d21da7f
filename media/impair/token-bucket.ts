/**
 * A rate limit as a token bucket shaper with a bounded queue: tokens (bytes)
 * refill at `bytesPerSecond` up to `burstBytes`; a datagram that finds too
 * few waits until enough have refilled (it leaves later), unless that wait
 * would exceed `queueMs` (a full router buffer), then it is dropped. Time is
 * passed in (ms), so it needs no timer.
 */
export interface RateLimit {
  bytesPerSecond: number;
  burstBytes: number;
  queueMs: number;
}

export class TokenBucket {
  /** May go negative: bytes already promised to queued datagrams. */
  private tokens: number;
  private at = Number.NEGATIVE_INFINITY;
  readonly limit: RateLimit;

  constructor(limit: RateLimit) {
    this.limit = limit;
    this.tokens = limit.burstBytes;
  }

  /** When a datagram of `bytes` arriving at `now` may leave (>= now), or -1 if the queue is full. */
  admit(now: number, bytes: number): number {
    const { bytesPerSecond, burstBytes, queueMs } = this.limit;
    if (now > this.at) {
      this.tokens = Math.min(burstBytes, this.tokens + ((now - this.at) * bytesPerSecond) / 1000);
      this.at = now;
    }
    const after = this.tokens - bytes;
    const wait = after >= 0 ? 0 : (-after * 1000) / bytesPerSecond;
    if (wait > queueMs) return -1;
    this.tokens = after;
    return now + wait;
  }
}
