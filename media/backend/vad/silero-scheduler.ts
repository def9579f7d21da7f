/**
 * Runs Silero inference for every session of a backend process, off the
 * frame path: a frame only copies audio into its SileroVad and wakes the
 * scheduler. The scheduler then runs one batch at a time (one window from each
 * session that has one waiting, up to maxBatch), hands each verdict back, and
 * yields to I/O between batches. What waits is bounded by each SileroVad's
 * backlog.
 */
import { SILERO_INPUT, SILERO_STATE, type SileroVad } from "./silero.ts";
import type { SileroModel } from "./silero-model.ts";
import type { VadEvent } from "./vad.ts";

export interface SchedulerStats {
  /** A batch ran: its size and its wall time in seconds. */
  onBatch?: (size: number, seconds: number) => void;
  /** A batch failed (the windows are decided as not speech). */
  onError?: (err: unknown) => void;
  /** A window was decided without the model (the backlog was full). */
  onSkipped?: () => void;
}

export class SileroScheduler {
  private readonly streams = new Map<SileroVad, (events: VadEvent[]) => void>();
  private readonly input: Float32Array;
  private readonly state: Float32Array;
  /** The batch loop, while it runs. */
  private current: Promise<void> | undefined;

  private readonly model: SileroModel;
  private readonly maxBatch: number;
  private readonly stats: SchedulerStats;

  constructor(model: SileroModel, maxBatch = 32, stats: SchedulerStats = {}) {
    this.model = model;
    this.maxBatch = maxBatch;
    this.stats = stats;
    this.input = new Float32Array(maxBatch * SILERO_INPUT);
    this.state = new Float32Array(maxBatch * SILERO_STATE);
  }

  attach(vad: SileroVad, onEvents: (events: VadEvent[]) => void): () => void {
    this.streams.set(vad, onEvents);
    return () => this.streams.delete(vad);
  }

  /** Some stream has a window waiting; cheap to call on every frame. */
  wake(): void {
    if (this.current) return;
    this.current = new Promise<void>((r) => setImmediate(r))
      .then(() => this.loop())
      .finally(() => {
        this.current = undefined;
        if (this.waiting().length) this.wake();
      });
  }

  /** Resolves once no stream has a window waiting (tests and benchmarks feeding faster than real time). */
  async flush(): Promise<void> {
    this.wake();
    while (this.current) await this.current;
  }

  private waiting(): SileroVad[] {
    const batch: SileroVad[] = [];
    for (const vad of this.streams.keys()) {
      if (vad.backlog > 0) batch.push(vad);
      if (batch.length === this.maxBatch) break;
    }
    return batch;
  }

  private async loop(): Promise<void> {
    for (let batch = this.waiting(); batch.length; batch = this.waiting()) {
      await this.run(batch);
      // Let sockets and timers in between batches.
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private async run(batch: SileroVad[]): Promise<void> {
    const b = batch.length;
    const half = SILERO_STATE / 2;
    batch.forEach((vad, i) => {
      this.input.set(vad.window(), i * SILERO_INPUT);
      for (let l = 0; l < 2; l++)
        this.state.set(vad.state.subarray(l * half, (l + 1) * half), (l * b + i) * half);
    });
    const t0 = performance.now();
    let probability: Float32Array | undefined;
    let state: Float32Array | undefined;
    try {
      ({ probability, state } = await this.model.run({ input: this.input, state: this.state, size: b }));
      this.stats.onBatch?.(b, (performance.now() - t0) / 1000);
    } catch (err) {
      this.stats.onError?.(err);
    }
    batch.forEach((vad, i) => {
      // A session that ended while the batch ran has nobody to tell.
      const onEvents = this.streams.get(vad);
      if (state)
        for (let l = 0; l < 2; l++)
          vad.state.set(state.subarray((l * b + i) * half, (l * b + i + 1) * half), l * half);
      const events = vad.decide(probability ? probability[i]! : 0);
      if (onEvents && events.length) onEvents(events);
    });
  }
}
