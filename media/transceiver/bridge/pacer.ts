/**
 * One timer per worker process drives every session's 20 ms audio tick
 * (not one setInterval per session: bench/bridge-pacer.ts measures both).
 *
 * Ticks sit on a fixed grid (origin + k * 20 ms), so timer lateness never
 * accumulates. A late tick is never made up with extra sends: a stream gets
 * at most one frame per tick, so audio is never sent in bursts. Each tick has
 * two phases: every stream sends its ready frame first (the time-critical
 * part), then every stream prepares (encodes) its next one.
 */

export const TICK_MS = 20;

export interface PacedStream {
  /** Phase 1: send the frame due at this tick, if any. */
  send(tick: number, now: number): void;
  /** Phase 2: get the next frame ready (e.g. encode it). */
  prepare(tick: number, now: number): void;
}

/** Sans-IO grid arithmetic. */
export class TickGrid {
  readonly origin: number;
  readonly periodMs: number;
  constructor(origin: number, periodMs = TICK_MS) {
    this.origin = origin;
    this.periodMs = periodMs;
  }
  /** Index of the latest tick due at `now` (-1 before the first). */
  indexAt(now: number): number {
    return Math.floor((now - this.origin) / this.periodMs);
  }
  /** When tick `index` is due. */
  timeOf(index: number): number {
    return this.origin + index * this.periodMs;
  }
}

export interface PacerStats {
  ticks: number;
  /** Grid ticks that passed with no callback (the process was busy); never made up. */
  skipped: number;
  /** Worst lateness of the timer behind the tick it was set for, ms (over 20: ticks were skipped). */
  maxLateMs: number;
  streams: number;
  /** Stream callbacks that threw (the stream is dropped; the others go on). */
  errors: number;
}

export interface PacerClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Pacer {
  private readonly streams = new Set<PacedStream>();
  /** The streams as an array, rebuilt only when the set changes (no per-tick allocation). */
  private order: PacedStream[] = [];
  private orderStale = false;
  private readonly clock: PacerClock;
  private readonly periodMs: number;
  private grid: TickGrid | undefined;
  private timer: unknown;
  private last = -1;
  /** How late the current tick's timer ran behind the tick it was set for, ms. */
  lateMs = 0;
  readonly stats: PacerStats = { ticks: 0, skipped: 0, maxLateMs: 0, streams: 0, errors: 0 };
  /** Told about a stream whose callback threw (it has been removed). */
  onError?: (s: PacedStream, err: unknown) => void;

  constructor(clock: PacerClock = realClock, periodMs = TICK_MS) {
    this.clock = clock;
    this.periodMs = periodMs;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  add(s: PacedStream): void {
    this.streams.add(s);
    this.orderStale = true;
    this.stats.streams = this.streams.size;
    if (!this.timer) {
      // A fresh grid whenever the pacer wakes from idle: the first tick is one period away.
      this.grid = new TickGrid(this.clock.now(), this.periodMs);
      this.last = 0;
      this.arm();
    }
  }

  delete(s: PacedStream): void {
    if (this.streams.delete(s)) this.orderStale = true;
    this.stats.streams = this.streams.size;
    if (this.streams.size === 0 && this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
  }

  private arm(): void {
    const grid = this.grid!;
    const delay = Math.max(0, Math.ceil(grid.timeOf(this.last + 1) - this.clock.now()));
    this.timer = this.clock.setTimer(() => this.fire(), delay);
  }

  /** One stream's fault must not stop the timer that every other session's audio depends on. */
  private failed(s: PacedStream, err: unknown): void {
    this.stats.errors++;
    this.delete(s);
    this.onError?.(s, err);
  }

  /** Runs the due tick (exposed for tests driving a fake clock). */
  fire(): void {
    const grid = this.grid!;
    const now = this.clock.now();
    const index = grid.indexAt(now);
    if (index > this.last) {
      const late = now - grid.timeOf(this.last + 1);
      this.lateMs = late;
      if (late > this.stats.maxLateMs) this.stats.maxLateMs = late;
      this.stats.skipped += index - this.last - 1;
      this.last = index;
      this.stats.ticks++;
      // A snapshot: a stream may remove itself (session closed) while we iterate; a change makes a new array.
      if (this.orderStale) {
        this.order = [...this.streams];
        this.orderStale = false;
      }
      this.each("send", index, now);
      this.each("prepare", index, now);
    }
    if (this.streams.size > 0) this.arm();
    else this.timer = undefined;
  }

  /** One step of the tick for every stream of the snapshot still paced; a stream that throws is failed. */
  private each(step: "send" | "prepare", index: number, now: number): void {
    const streams = this.order;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      if (!this.streams.has(s)) continue;
      try {
        s[step](index, now);
      } catch (err) {
        this.failed(s, err);
      }
    }
  }
}
