/**
 * The turn logic every VAD shares, sans-IO: given one step of audio at a time
 * and whether it is speech, finds turns with the server_vad settings (onset
 * after min_speech_ms, prefix padding, end after silence_duration_ms) and
 * keeps the utterance's audio.
 */
import { DEFAULT_VAD, type Vad, type VadConfig, type VadEvent, type VadKind } from "./vad.ts";

export class TurnDetector {
  /** Steps decided so far. */
  private step = 0;
  private speaking = false;
  private speechRun = 0;
  private quietRun = 0;
  /** Recent steps while idle (prefix padding plus the onset run). */
  private recent: Buffer[] = [];
  private utterance: Buffer[] = [];
  private utteranceSteps = 0;
  /** Steps of the utterance up to and including its last speech step. */
  private utteranceSpeechEnd = 0;

  private cfg: VadConfig;
  /** Audio per step. */
  readonly stepMs: number;

  constructor(cfg: VadConfig, stepMs: number) {
    this.cfg = cfg;
    this.stepMs = stepMs;
  }

  get config(): VadConfig {
    return this.cfg;
  }
  get isSpeaking(): boolean {
    return this.speaking;
  }
  get positionMs(): number {
    return this.step * this.stepMs;
  }

  configure(cfg: Partial<VadConfig>): void {
    this.cfg = { ...this.cfg, ...cfg };
  }

  reset(): void {
    this.speaking = false;
    this.speechRun = 0;
    this.quietRun = 0;
    this.recent = [];
    this.utterance = [];
    this.utteranceSteps = 0;
  }

  /** One step of audio (kept by reference: pass a buffer nobody reuses) and its verdict. */
  next(audio: Buffer, speech: boolean): VadEvent | undefined {
    const index = this.step++;
    const ms = this.stepMs;
    const prefixSteps = Math.round(this.cfg.prefixPaddingMs / ms);
    const minSteps = Math.max(1, Math.round(this.cfg.minSpeechMs / ms));
    if (!this.speaking) {
      this.recent.push(audio);
      this.speechRun = speech ? this.speechRun + 1 : 0;
      if (this.recent.length > prefixSteps + minSteps) this.recent.shift();
      if (this.speechRun < minSteps) return undefined;
      // Speech: it began speechRun steps ago; keep up to prefixSteps before that.
      const onsetStep = index - this.speechRun + 1;
      const keep = Math.min(this.recent.length, this.speechRun + prefixSteps);
      this.utterance = this.recent.slice(this.recent.length - keep);
      this.utteranceSteps = this.utterance.length;
      this.utteranceSpeechEnd = this.utteranceSteps;
      this.recent = [];
      this.speaking = true;
      this.quietRun = 0;
      return { type: "speech_started", audioStartMs: (index + 1 - keep) * ms, onsetMs: onsetStep * ms };
    }
    if (this.utteranceSteps * ms < this.cfg.maxUtteranceMs) {
      this.utterance.push(audio);
      this.utteranceSteps++;
    }
    if (speech) {
      this.quietRun = 0;
      this.utteranceSpeechEnd = this.utteranceSteps;
      return undefined;
    }
    this.quietRun++;
    if (this.quietRun * ms < this.cfg.silenceDurationMs) return undefined;
    const utterance = Buffer.concat(this.utterance.slice(0, this.utteranceSpeechEnd));
    this.speaking = false;
    this.speechRun = 0;
    this.utterance = [];
    this.utteranceSteps = 0;
    return { type: "speech_stopped", audioEndMs: (index + 1) * ms, utterance };
  }
}

/**
 * What every VAD does the same way: its settings, state and clock are its
 * TurnDetector's. A subclass only turns audio into steps and verdicts (push).
 */
export abstract class TurnVad implements Vad {
  abstract readonly kind: VadKind;
  protected readonly turn: TurnDetector;

  constructor(cfg: Partial<VadConfig>, stepMs: number) {
    this.turn = new TurnDetector({ ...DEFAULT_VAD, ...cfg }, stepMs);
  }

  get config(): VadConfig {
    return this.turn.config;
  }
  get isSpeaking(): boolean {
    return this.turn.isSpeaking;
  }
  get positionMs(): number {
    return this.turn.positionMs;
  }
  configure(cfg: Partial<VadConfig>): void {
    this.turn.configure(cfg);
  }
  reset(): void {
    this.turn.reset();
  }

  abstract push(pcm: Buffer): VadEvent[];
}
