/**
 * Speech to test and measure VADs with, made here: espeak-ng speaks, sox
 * resamples to PCM16 mono at 24 kHz; noise comes from a seeded generator and
 * is mixed in at a given SNR. The true boundaries come from the clean speech.
 */
import { spawnSync } from "node:child_process";

export const RATE = 24_000;
const samplesOf = (ms: number) => Math.round((RATE * ms) / 1000);

/** `text` spoken by espeak-ng at 24 kHz (throws if espeak-ng or sox is missing). */
export function speak(text: string, o: { voice?: string; wpm?: number; pitch?: number } = {}): Int16Array {
  const wav = spawnSync(
    "espeak-ng",
    ["-v", o.voice ?? "en-us", "-s", String(o.wpm ?? 160), "-p", String(o.pitch ?? 50), "--stdout", text],
    { maxBuffer: 64 << 20 },
  );
  if (wav.status !== 0) throw new Error(`espeak-ng failed: ${wav.error ?? wav.stderr.toString()}`);
  const raw = spawnSync(
    "sox",
    ["-t", "wav", "-", "-t", "raw", "-r", String(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-"],
    { input: wav.stdout, maxBuffer: 64 << 20 },
  );
  if (raw.status !== 0) throw new Error(`sox failed: ${raw.error ?? raw.stderr.toString()}`);
  const b = raw.stdout;
  return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Seeded noise (float, unit RMS before `dbfs`): white, or pink (-3 dB/octave, Kellet's filter). */
export function noise(ms: number, dbfs: number, seed = 1, kind: "white" | "pink" = "pink"): Float32Array {
  const n = samplesOf(ms);
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const rand = () => {
    // xorshift32, then a sum of two uniforms: close enough to Gaussian for noise.
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296 - 0.5;
  };
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < n; i++) {
    const w = rand() + rand();
    if (kind === "white") out[i] = w;
    else {
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      out[i] = b0 + b1 + b2 + w * 0.1848;
    }
  }
  const gain = (10 ** (dbfs / 20) * 32768) / rms(out);
  for (let i = 0; i < n; i++) out[i]! *= gain;
  return out;
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

/** Where speech is: the first and last 10 ms frame above -50 dBFS, in ms. */
export function speechBounds(clean: ArrayLike<number>): { startMs: number; endMs: number } {
  const f = samplesOf(10);
  const on: number[] = [];
  for (let i = 0; i + f <= clean.length; i += f)
    if (rms(clean, i, i + f) > 32768 * 10 ** (-50 / 20)) on.push(i / f);
  if (on.length === 0) throw new Error("no speech in the clean signal");
  return { startMs: on[0]! * 10, endMs: (on[on.length - 1]! + 1) * 10 };
}

export interface Scene {
  pcm: Buffer;
  /** True speech boundaries of each utterance, in ms from the start. */
  turns: { startMs: number; endMs: number }[];
  durationMs: number;
}

/**
 * Utterances separated by `gapMs` of silence (and `gapMs` before the first and after the last),
 * each scaled to `speechDbfs` (RMS over its speech), with noise at `snrDb` below the speech over all of it
 * (no noise when snrDb is Infinity).
 */
export function scene(
  utterances: Int16Array[],
  o: { gapMs?: number; speechDbfs?: number; snrDb?: number; seed?: number } = {},
): Scene {
  const gap = samplesOf(o.gapMs ?? 1500);
  const speechDbfs = o.speechDbfs ?? -26;
  const total = gap + utterances.reduce((n, u) => n + u.length + gap, 0);
  const mix = new Float32Array(total);
  const turns: Scene["turns"] = [];
  let at = gap;
  for (const u of utterances) {
    const b = speechBounds(u);
    const active = rms(u, samplesOf(b.startMs), samplesOf(b.endMs));
    const gain = (10 ** (speechDbfs / 20) * 32768) / active;
    for (let i = 0; i < u.length; i++) mix[at + i] = u[i]! * gain;
    turns.push({ startMs: ((at / RATE) * 1000 + b.startMs) | 0, endMs: ((at / RATE) * 1000 + b.endMs) | 0 });
    at += u.length + gap;
  }
  const snr = o.snrDb ?? Number.POSITIVE_INFINITY;
  if (Number.isFinite(snr)) {
    const n = noise((total / RATE) * 1000, speechDbfs - snr, o.seed ?? 7);
    for (let i = 0; i < total; i++) mix[i]! += n[i] ?? 0;
  }
  return { pcm: toPcm(mix), turns, durationMs: (total / RATE) * 1000 };
}

/** Float samples (PCM16 scale) to PCM16 bytes, clipped. */
export function toPcm(x: Float32Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  for (let i = 0; i < x.length; i++)
    b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(x[i]!))), i * 2);
  return b;
}

/** Noise alone (what a VAD must not take for speech). */
export const noiseOnly = (ms: number, dbfs: number, seed = 3): Buffer => toPcm(noise(ms, dbfs, seed));

/** `text` spoken, as the voice client's 20 ms frames (PCM16 at 48 kHz, twice the rate by interpolation). */
export function speechFrames(text: string): Buffer[] {
  const x = speak(text);
  const frames: Buffer[] = [];
  const FRAME = 960;
  for (let at = 0; at < x.length * 2; at += FRAME) {
    const b = Buffer.alloc(FRAME * 2);
    for (let i = 0; i < FRAME; i++) {
      const j = (at + i) / 2;
      const lo = x[Math.floor(j)] ?? 0;
      const hi = x[Math.ceil(j)] ?? lo;
      b.writeInt16LE(Math.round((lo + hi) / 2), i * 2);
    }
    frames.push(b);
  }
  return frames;
}
