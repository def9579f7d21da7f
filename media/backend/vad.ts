/**
 * Energy-based voice activity detection, sans-IO, configured like the
 * Realtime API's `turn_detection: {type: "server_vad"}`:
 *
 * - threshold (0..1): a 20 ms frame is speech when its RMS level is above
 *   -60 + 40 * threshold dBFS (0.5 -> -40 dBFS; higher needs louder audio);
 * - prefix_padding_ms: audio kept from before the detected onset;
 * - silence_duration_ms: this much quiet after speech ends the turn;
 * - min_speech_ms (ours): speech must last this long to count (a click does not).
 *
 * Times are milliseconds of audio since the stream began, as the Realtime
 * API reports them: `audio_start_ms` includes the prefix padding and
 * `audio_end_ms` includes the silence duration.
 */

export interface VadConfig {
  threshold: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
  minSpeechMs: number;
  /** The longest utterance kept (the rest is not recorded; detection goes on). */
  maxUtteranceMs: number;
}

export const DEFAULT_VAD: VadConfig = {
  threshold: 0.5,
  prefixPaddingMs: 300,
  silenceDurationMs: 500,
  minSpeechMs: 40,
  maxUtteranceMs: 15_000,
};

export const VAD_FRAME_MS = 20;

export type VadEvent =
  | {
      type: "speech_started";
      /** Onset less the prefix padding (what goes to the model). */
      audioStartMs: number;
      /** Where the first speech frame began. */
      onsetMs: number;
      /** Index of the first speech frame (for latency accounting). */
      onsetFrame: number;
    }
  | {
      type: "speech_stopped";
      /** End of the last speech frame plus the silence duration. */
      audioEndMs: number;
      /** PCM16 from audioStartMs to the end of the last speech frame. */
      utterance: Buffer;
    };

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

export class EnergyVad {
  readonly rate: number;
  private cfg: VadConfig;
  private readonly frameBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  /** Frames processed so far. */
  private frame = 0;
  private speaking = false;
  private loudRun = 0;
  private quietRun = 0;
  /** Recent frames while idle (prefix padding plus the onset run). */
  private recent: Buffer[] = [];
  private utterance: Buffer[] = [];
  private utteranceFrames = 0;
  /** Frames of the utterance up to and including its last speech frame. */
  private utteranceSpeechEnd = 0;

  constructor(cfg: Partial<VadConfig> = {}, rate = 24000) {
    this.cfg = { ...DEFAULT_VAD, ...cfg };
    this.rate = rate;
    this.frameBytes = (rate / 1000) * VAD_FRAME_MS * 2;
  }

  get config(): VadConfig {
    return this.cfg;
  }
  get isSpeaking(): boolean {
    return this.speaking;
  }
  /** Milliseconds of audio seen. */
  get positionMs(): number {
    return this.frame * VAD_FRAME_MS;
  }

  configure(cfg: Partial<VadConfig>): void {
    this.cfg = { ...this.cfg, ...cfg };
  }

  /** Forgets the current turn (input_audio_buffer.clear); the clock goes on. */
  reset(): void {
    this.speaking = false;
    this.loudRun = 0;
    this.quietRun = 0;
    this.recent = [];
    this.utterance = [];
    this.utteranceFrames = 0;
  }

  /** Feeds PCM16 (any length); returns the events it caused. */
  push(pcm: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, pcm]) : pcm;
    while (buf.length >= this.frameBytes) {
      const f = buf.subarray(0, this.frameBytes);
      buf = buf.subarray(this.frameBytes);
      const e = this.step(Buffer.from(f));
      if (e) events.push(e);
    }
    this.pending = Buffer.from(buf);
    return events;
  }

  private step(f: Buffer): VadEvent | undefined {
    const index = this.frame++;
    const loud = levelDbfs(f) > thresholdDbfs(this.cfg.threshold);
    const prefixFrames = Math.round(this.cfg.prefixPaddingMs / VAD_FRAME_MS);
    const minFrames = Math.max(1, Math.round(this.cfg.minSpeechMs / VAD_FRAME_MS));
    if (!this.speaking) {
      this.recent.push(f);
      this.loudRun = loud ? this.loudRun + 1 : 0;
      if (this.recent.length > prefixFrames + minFrames) this.recent.shift();
      if (this.loudRun < minFrames) return undefined;
      // Speech: it began loudRun frames ago; keep up to prefixFrames before that.
      const onsetFrame = index - this.loudRun + 1;
      const keep = Math.min(this.recent.length, this.loudRun + prefixFrames);
      this.utterance = this.recent.slice(this.recent.length - keep);
      this.utteranceFrames = this.utterance.length;
      this.utteranceSpeechEnd = this.utteranceFrames;
      this.recent = [];
      this.speaking = true;
      this.quietRun = 0;
      const startFrame = index + 1 - keep;
      return {
        type: "speech_started",
        audioStartMs: startFrame * VAD_FRAME_MS,
        onsetMs: onsetFrame * VAD_FRAME_MS,
        onsetFrame,
      };
    }
    if (this.utteranceFrames * VAD_FRAME_MS < this.cfg.maxUtteranceMs) {
      this.utterance.push(f);
      this.utteranceFrames++;
    }
    if (loud) {
      this.quietRun = 0;
      this.utteranceSpeechEnd = this.utteranceFrames;
      return undefined;
    }
    this.quietRun++;
    if (this.quietRun * VAD_FRAME_MS < this.cfg.silenceDurationMs) return undefined;
    const utterance = Buffer.concat(this.utterance.slice(0, this.utteranceSpeechEnd));
    this.speaking = false;
    this.loudRun = 0;
    this.utterance = [];
    this.utteranceFrames = 0;
    return {
      type: "speech_stopped",
      audioEndMs: (index + 1) * VAD_FRAME_MS,
      utterance,
    };
  }
}
