/**
 * Silero VAD (v5), sans-IO: the model's inference is done elsewhere
 * (silero-scheduler.ts runs it, batched over sessions); this class prepares
 * its inputs and turns its outputs into turns.
 *
 * In: PCM16 at 24 kHz, resampled to 16 kHz, cut into 512-sample windows
 * (32 ms), each with the 64 samples before it as context (as the model's
 * reference wrapper feeds it). Out: a speech probability per window, read
 * with hysteresis (speech from `threshold`, still speech down to 0.15 below
 * it, as Silero's own segmenter does), then the shared turn logic.
 *
 * Bounded: at most `maxBacklog` windows wait for inference. When one more
 * arrives, the oldest is decided without the model (the last verdict holds)
 * and counted in `skipped`: audio is never queued without limit.
 */
import { RationalResampler } from "../../transceiver/bridge/resampler.ts";
import { TurnVad } from "./turn.ts";
import type { VadConfig, VadEvent } from "./vad.ts";

export const SILERO_RATE = 16_000;
/** Samples per window at 16 kHz (32 ms). */
export const SILERO_WINDOW = 512;
export const SILERO_CONTEXT = 64;
/** Floats per model input row: context, then the window. */
export const SILERO_INPUT = SILERO_CONTEXT + SILERO_WINDOW;
/** Floats of recurrent state per stream ([2, 1, 128]). */
export const SILERO_STATE = 2 * 128;
export const SILERO_STEP_MS = 32;
/** The same 32 ms at the input's 24 kHz. */
const STEP_SAMPLES = 768;
const HYSTERESIS = 0.15;

export class SileroVad extends TurnVad {
  readonly kind = "silero";
  /** The model's recurrent state, carried from window to window (the scheduler reads and writes it). */
  readonly state = new Float32Array(SILERO_STATE);
  /** Windows decided without the model because inference fell behind. */
  skipped = 0;
  private readonly resampler = new RationalResampler(2, 3);
  /** The 24 kHz step being filled. */
  private readonly step = new Int16Array(STEP_SAMPLES);
  private readonly stepBytes = Buffer.from(this.step.buffer);
  private stepFill = 0;
  private readonly out16 = new Float32Array(this.resampler.maxOutput(STEP_SAMPLES));
  private readonly context = new Float32Array(SILERO_CONTEXT);
  /** Ring of windows waiting for the model: their inputs and their 24 kHz audio. */
  private readonly inputs: Float32Array;
  private readonly audio: Buffer[];
  private head = 0;
  private count = 0;
  private lastSpeech = false;

  readonly maxBacklog: number;
  private readonly onSkip: () => void;

  constructor(cfg: Partial<VadConfig> = {}, maxBacklog = 16, onSkip: () => void = () => {}) {
    super(cfg, SILERO_STEP_MS);
    this.maxBacklog = maxBacklog;
    this.onSkip = onSkip;
    this.inputs = new Float32Array(maxBacklog * SILERO_INPUT);
    this.audio = Array.from({ length: maxBacklog }, () => Buffer.alloc(STEP_SAMPLES * 2));
  }

  /** Windows waiting for the model. */
  get backlog(): number {
    return this.count;
  }

  push(pcm: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let at = 0;
    while (at < pcm.length) {
      const n = Math.min(pcm.length - at, this.stepBytes.length - this.stepFill);
      pcm.copy(this.stepBytes, this.stepFill, at, at + n);
      this.stepFill += n;
      at += n;
      if (this.stepFill < this.stepBytes.length) break;
      this.stepFill = 0;
      const e = this.enqueue();
      if (e) events.push(e);
    }
    return events;
  }

  /** The oldest waiting window's model input (context + window, in [-1, 1)). */
  window(): Float32Array {
    return this.inputs.subarray(this.head * SILERO_INPUT, (this.head + 1) * SILERO_INPUT);
  }

  /** The model's speech probability for the oldest waiting window (its new state already in `state`). */
  decide(probability: number): VadEvent[] {
    if (this.count === 0) throw new Error("silero: no window is waiting for a verdict");
    const { threshold } = this.turn.config;
    this.lastSpeech =
      probability >= (this.turn.isSpeaking ? Math.max(0.01, threshold - HYSTERESIS) : threshold);
    const e = this.pop(this.lastSpeech);
    return e ? [e] : [];
  }

  private enqueue(): VadEvent | undefined {
    // Full: the oldest window goes without the model.
    let held: VadEvent | undefined;
    if (this.count === this.maxBacklog) {
      this.skipped++;
      this.onSkip();
      held = this.pop(this.lastSpeech);
    }
    const slot = (this.head + this.count) % this.maxBacklog;
    const n = this.resampler.process(this.step, this.out16);
    if (n !== SILERO_WINDOW) throw new Error(`silero: resampler gave ${n} samples for a window`);
    const row = this.inputs.subarray(slot * SILERO_INPUT, (slot + 1) * SILERO_INPUT);
    row.set(this.context);
    for (let i = 0; i < SILERO_WINDOW; i++) row[SILERO_CONTEXT + i] = this.out16[i]! / 32768;
    this.context.set(row.subarray(SILERO_INPUT - SILERO_CONTEXT));
    this.stepBytes.copy(this.audio[slot]!);
    this.count++;
    return held;
  }

  private pop(speech: boolean): VadEvent | undefined {
    // The turn logic keeps the step's audio: hand it a copy, the slot is reused.
    const audio = Buffer.from(this.audio[this.head]!);
    this.head = (this.head + 1) % this.maxBacklog;
    this.count--;
    return this.turn.next(audio, speech);
  }
}
