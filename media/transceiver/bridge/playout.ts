/**
 * One session's outgoing audio, sans-IO: the backend's PCM (24 kHz, any chunk
 * size) cut into 20 ms frames, queued, and handed out one per pacer tick with
 * RTP sequence numbers, timestamps and the marker bit, plus the
 * `output_audio_buffer.started / stopped / cleared` moments.
 *
 * RTP rules (RFC 3550, RFC 7587): the timestamp runs at 48 kHz and advances
 * 960 per 20 ms frame; frames of one talk spurt have contiguous timestamps;
 * the first frame after a pause has the marker bit, and its timestamp tells
 * the receiver how long the pause was (ticks elapsed); the sequence number
 * goes up by one per packet sent.
 */
import { RTP_FRAME_TICKS } from "./opus.ts";
import { TICK_MS } from "./pacer.ts";

export interface OutFrame {
  pcm: Buffer;
  responseId: string | undefined;
  /** Filled in ahead of time by the bridge (encoded payload). */
  encoded?: Buffer;
}

export interface SentFrame {
  frame: OutFrame;
  marker: boolean;
  timestamp: number;
  sequence: number;
}

export type PlayoutEvent =
  | { type: "output_audio_buffer.started"; response_id: string | undefined }
  | { type: "output_audio_buffer.stopped"; response_id: string | undefined; played_ms: number }
  | { type: "output_audio_buffer.cleared"; response_id: string | undefined; played_ms: number };

export interface PlayoutOptions {
  /** Bytes of one 20 ms PCM16 frame (960 at 24 kHz). */
  frameBytes?: number;
  /** An underrun this long ends the talk spurt with `stopped` even if the response is not done. */
  underrunStopMs?: number;
  /** Audio beyond this much queued is dropped (the backend should be paused well before). */
  maxQueuedMs?: number;
}

export interface PlayoutStats {
  framesQueued: number;
  framesSent: number;
  framesCleared: number;
  /** output_audio_buffer.clear requests carried out. */
  clears: number;
  bytesDropped: number;
  spurts: number;
}

export class Playout {
  readonly frameBytes: number;
  private readonly underrunStopTicks: number;
  private readonly maxFrames: number;
  private readonly queue: OutFrame[] = [];
  private head = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The response new audio belongs to (from the backend's response.created). */
  private current: string | undefined;
  private readonly finished = new Set<string | undefined>();
  /** Responses whose remaining audio is dropped (cleared by barge-in or the client). */
  private readonly discarded = new Set<string>();
  private speaking = false;
  private speakingResponse: string | undefined;
  private playedFrames = 0;
  private underrun = 0;
  private lastSentTick = 0;
  private lastTimestamp = 0;
  private sequence = 0;
  private started = false;
  /** Whether the previous tick() call sent a frame (a skipped pacer tick does not break a spurt). */
  private prevSent = false;
  readonly stats: PlayoutStats = {
    framesQueued: 0,
    framesSent: 0,
    framesCleared: 0,
    clears: 0,
    bytesDropped: 0,
    spurts: 0,
  };

  constructor(o: PlayoutOptions = {}) {
    this.frameBytes = o.frameBytes ?? 960;
    this.underrunStopTicks = Math.ceil((o.underrunStopMs ?? 400) / TICK_MS);
    this.maxFrames = Math.ceil((o.maxQueuedMs ?? 120_000) / TICK_MS);
  }

  get queuedFrames(): number {
    return this.queue.length - this.head;
  }
  get queuedMs(): number {
    return this.queuedFrames * TICK_MS;
  }
  /** Whether a talk spurt is in progress (between started and stopped/cleared). */
  get isSpeaking(): boolean {
    return this.speaking;
  }
  /** Whether the pacer needs to tick this stream. */
  get active(): boolean {
    return this.speaking || this.queuedFrames > 0;
  }

  /** Audio that follows belongs to this response (the backend's response.created). */
  begin(responseId: string): void {
    this.flushPartial();
    this.current = responseId;
    // Audio of earlier responses can no longer arrive: forget what was kept about them.
    this.discarded.clear();
    for (const r of this.finished)
      if (r !== this.speakingResponse && !this.queue.some((f, i) => i >= this.head && f.responseId === r))
        this.finished.delete(r);
  }

  /** The response's audio is complete: pad and queue its last partial frame. */
  finish(responseId: string | undefined): void {
    if (responseId === undefined || responseId === this.current) this.flushPartial();
    this.finished.add(responseId);
  }

  /** Queues backend PCM. Returns false when (some of) it was dropped. */
  push(pcm: Buffer): boolean {
    if (this.current !== undefined && this.discarded.has(this.current)) {
      this.stats.bytesDropped += pcm.length;
      return false;
    }
    let offset = 0;
    if (this.partialBytes > 0) {
      const need = this.frameBytes - this.partialBytes;
      const take = pcm.subarray(0, need);
      this.partial.push(take);
      this.partialBytes += take.length;
      offset = take.length;
      if (this.partialBytes < this.frameBytes) return true;
      if (!this.enqueue(Buffer.concat(this.partial))) return this.dropRest(pcm, offset);
      this.partial = [];
      this.partialBytes = 0;
    }
    while (pcm.length - offset >= this.frameBytes) {
      // Copy: the caller's buffer (a WebSocket message) is not ours to keep a view of.
      if (!this.enqueue(Buffer.from(pcm.subarray(offset, offset + this.frameBytes))))
        return this.dropRest(pcm, offset);
      offset += this.frameBytes;
    }
    if (offset < pcm.length) {
      this.partial.push(Buffer.from(pcm.subarray(offset)));
      this.partialBytes += pcm.length - offset;
    }
    return true;
  }

  private dropRest(pcm: Buffer, offset: number): false {
    this.stats.bytesDropped += pcm.length - offset;
    return false;
  }

  private enqueue(pcm: Buffer): boolean {
    if (this.queuedFrames >= this.maxFrames) return false;
    this.queue.push({ pcm, responseId: this.current });
    this.stats.framesQueued++;
    return true;
  }

  private flushPartial(): void {
    if (this.partialBytes === 0) return;
    const pad = Buffer.alloc(this.frameBytes - this.partialBytes);
    this.enqueue(Buffer.concat([...this.partial, pad]));
    this.partial = [];
    this.partialBytes = 0;
  }

  /** The next frame to send, for encoding ahead of its tick. */
  peek(): OutFrame | undefined {
    return this.queue[this.head];
  }

  /**
   * Drops everything queued at once. The rest of the playing (or queued)
   * response is discarded too if it keeps arriving. Always reports `cleared`.
   */
  clear(): PlayoutEvent {
    const responseId = this.speaking ? this.speakingResponse : (this.peek()?.responseId ?? this.current);
    const played = this.speaking ? this.playedFrames * TICK_MS : 0;
    this.stats.framesCleared += this.queuedFrames;
    this.stats.clears++;
    this.queue.length = 0;
    this.head = 0;
    this.partial = [];
    this.partialBytes = 0;
    if (this.current !== undefined && !this.finished.has(this.current)) this.discarded.add(this.current);
    if (responseId !== undefined && !this.finished.has(responseId)) this.discarded.add(responseId);
    this.finished.clear();
    this.speaking = false;
    this.speakingResponse = undefined;
    this.playedFrames = 0;
    this.underrun = 0;
    this.prevSent = false;
    return { type: "output_audio_buffer.cleared", response_id: responseId, played_ms: played };
  }

  /** Called once per pacer tick: the frame to send now (if any) and the events this tick caused. */
  tick(tick: number): { sent?: SentFrame; events: PlayoutEvent[] } {
    const events: PlayoutEvent[] = [];
    const frame = this.queue[this.head];
    const prevSent = this.prevSent;
    this.prevSent = frame !== undefined;
    if (!frame) {
      if (this.speaking) {
        this.underrun++;
        if (this.finished.has(this.speakingResponse) || this.underrun >= this.underrunStopTicks)
          events.push(this.stop());
      }
      return { events };
    }
    this.head++;
    if (this.head > 256 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.speaking && frame.responseId !== this.speakingResponse) events.push(this.stop());
    if (!this.speaking) {
      this.speaking = true;
      this.speakingResponse = frame.responseId;
      this.playedFrames = 0;
      this.stats.spurts++;
      events.push({ type: "output_audio_buffer.started", response_id: frame.responseId });
    }
    this.underrun = 0;
    // Within a talk spurt timestamps are contiguous (a pacer tick the process was too busy for
    // does not break it). A new spurt gets the marker bit and a timestamp that tells how many
    // frame times went by since the last packet.
    const continuous = this.started && prevSent;
    const step = continuous ? 1 : Math.max(1, tick - this.lastSentTick);
    const timestamp = (this.lastTimestamp + step * RTP_FRAME_TICKS) >>> 0;
    const marker = !continuous;
    this.started = true;
    this.lastSentTick = tick;
    this.lastTimestamp = timestamp;
    this.sequence = (this.sequence + 1) & 0xffff;
    this.playedFrames++;
    this.stats.framesSent++;
    return { sent: { frame, marker, timestamp, sequence: this.sequence }, events };
  }

  private stop(): PlayoutEvent {
    const e: PlayoutEvent = {
      type: "output_audio_buffer.stopped",
      response_id: this.speakingResponse,
      played_ms: this.playedFrames * TICK_MS,
    };
    this.finished.delete(this.speakingResponse);
    if (this.speakingResponse !== undefined) this.discarded.delete(this.speakingResponse);
    this.speaking = false;
    this.speakingResponse = undefined;
    this.playedFrames = 0;
    this.underrun = 0;
    return e;
  }
}
