/**
 * Energy VAD, sans-IO: a 20 ms frame is speech when its RMS level is above
 * -60 + 40 * threshold dBFS (0.5 -> -40 dBFS; higher needs louder audio).
 * Cheap and instant, but it fires on loud noise and misses quiet speech.
 */
import { TurnVad } from "./turn.ts";
import type { VadConfig, VadEvent } from "./vad.ts";

export const ENERGY_FRAME_MS = 20;

/** The RMS level of PCM16 samples in dBFS (-Infinity for digital silence). */
export function levelDbfs(pcm: Buffer): number {
  const n = pcm.length >> 1;
  if (n === 0) return Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE(i * 2);
    sum += s * s;
  }
  return 10 * Math.log10(sum / n / (32768 * 32768));
}

export const thresholdDbfs = (threshold: number): number => -60 + 40 * Math.min(1, Math.max(0, threshold));

export class EnergyVad extends TurnVad {
  readonly kind = "energy";
  private readonly frameBytes: number;
  private pending: Buffer = Buffer.alloc(0);

  constructor(cfg: Partial<VadConfig> = {}, rate = 24000) {
    super(cfg, ENERGY_FRAME_MS);
    this.frameBytes = (rate / 1000) * ENERGY_FRAME_MS * 2;
  }

  push(pcm: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, pcm]) : pcm;
    while (buf.length >= this.frameBytes) {
      const f = Buffer.from(buf.subarray(0, this.frameBytes));
      buf = buf.subarray(this.frameBytes);
      const e = this.turn.next(f, levelDbfs(f) > thresholdDbfs(this.turn.config.threshold));
      if (e) events.push(e);
    }
    this.pending = Buffer.from(buf);
    return events;
  }
}
