/**
 * Voice activity detection for the demo agent, configured like the Realtime
 * API's `turn_detection: {type: "server_vad"}`:
 *
 * - threshold (0..1): how sure a VAD must be that a step is speech (energy:
 *   a level in dBFS, see energy.ts; Silero: the model's speech probability);
 * - prefix_padding_ms: audio kept from before the detected onset;
 * - silence_duration_ms: this much non-speech after speech ends the turn;
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

export type VadEvent =
  | {
      type: "speech_started";
      /** Onset less the prefix padding (what goes to the model). */
      audioStartMs: number;
      /** Where the first speech step began. */
      onsetMs: number;
    }
  | {
      type: "speech_stopped";
      /** End of the last speech step plus the silence duration. */
      audioEndMs: number;
      /** PCM16 from audioStartMs to the end of the last speech step. */
      utterance: Buffer;
    };

export type VadKind = "energy" | "silero";

/** Sans-IO: PCM16 at 24 kHz in, turn events out. */
export interface Vad {
  readonly kind: VadKind;
  readonly config: VadConfig;
  readonly isSpeaking: boolean;
  /** Milliseconds of audio decided so far (Silero decides after inference, so it may lag the input). */
  readonly positionMs: number;
  configure(cfg: Partial<VadConfig>): void;
  /** Forgets the current turn (input_audio_buffer.clear); the clock goes on. */
  reset(): void;
  /** Feeds PCM16 (any length); returns the events decided now. */
  push(pcm: Buffer): VadEvent[];
}
