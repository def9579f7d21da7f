/**
 * The client's audio as backends get it, sans-IO: a continuous real-time
 * stream of 20 ms frames from the first packet on. Duplicate and late
 * packets are dropped; gaps (loss, DTX, a muted microphone, a client that
 * stops sending) are filled with silence, from the RTP timestamps when the
 * next packet comes and from the clock when none does, so a backend's voice
 * activity detection sees the silence after speech and its clock stays true.
 */
import { RTP_FRAME_TICKS } from "./opus.ts";
import { TICK_MS } from "./pacer.ts";

export interface InputTimelineOptions {
  /** With no packet for this long, the clock starts filling silence. */
  holdMs?: number;
  /** The most silence frames one packet's timestamp gap may ask for (1 s). */
  maxGapFrames?: number;
}

export interface InputStats {
  packets: number;
  late: number;
  filledFrames: number;
}

export class InputTimeline {
  private readonly holdMs: number;
  private readonly maxGap: number;
  private lastSeq = -1;
  private lastTs = 0;
  private lastAt = 0;
  /** 20 ms frames the last packet carried. */
  private lastFrames = 1;
  /** Silence frames the clock filled since the last packet. */
  private filled = 0;
  readonly stats: InputStats = { packets: 0, late: 0, filledFrames: 0 };

  constructor(o: InputTimelineOptions = {}) {
    this.holdMs = o.holdMs ?? 100;
    this.maxGap = o.maxGapFrames ?? 50;
  }

  get started(): boolean {
    return this.lastSeq >= 0;
  }

  /** Whether a packet with this sequence number is new (false: a duplicate or late; drop it). */
  accept(seq: number): boolean {
    if (this.lastSeq < 0) return true;
    const dseq = ((seq - this.lastSeq + 0x8000) & 0xffff) - 0x8000;
    if (dseq > 0) return true;
    this.stats.late++;
    return false;
  }

  /**
   * An accepted packet carrying `frames` 20 ms frames: how many silence frames go before its
   * audio (the gap its timestamp shows, less what the clock already filled).
   */
  onPacket(seq: number, timestamp: number, now: number, frames = 1): number {
    let fill = 0;
    if (this.lastSeq >= 0) {
      const dts = ((timestamp - this.lastTs + 0x80000000) >>> 0) - 0x80000000;
      const missing = Math.min(this.maxGap, Math.max(0, Math.round(dts / RTP_FRAME_TICKS) - this.lastFrames));
      fill = Math.max(0, missing - this.filled);
      this.stats.filledFrames += fill;
    }
    this.stats.packets++;
    this.lastSeq = seq;
    this.lastTs = timestamp;
    this.lastAt = now;
    this.lastFrames = Math.max(1, frames);
    this.filled = 0;
    return fill;
  }

  /** A pacer tick: how many silence frames to emit now because nothing came. */
  onTick(now: number): number {
    if (this.lastSeq < 0 || now - this.lastAt < this.holdMs) return 0;
    // Frames that should exist by now after the last packet's own.
    const due = Math.floor((now - this.lastAt) / TICK_MS) - (this.lastFrames - 1) - this.filled;
    if (due <= 0) return 0;
    this.filled += due;
    this.stats.filledFrames += due;
    return due;
  }
}
