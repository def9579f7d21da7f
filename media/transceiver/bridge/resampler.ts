/**
 * Rate changes of PCM16 mono, streaming.
 *
 * 2:1 between 48 kHz and 24 kHz: a 63-tap half-band FIR (windowed sinc, Kaiser
 * beta 8): flat to about 10 kHz, at least 70 dB down from 14 kHz, so
 * decimating 48 -> 24 kHz does not fold the upper band back into speech, and
 * interpolating 24 -> 48 kHz leaves no image above 12 kHz. Half the taps of a
 * half-band filter are zero, and each output sample needs only the nonzero
 * ones (polyphase).
 *
 * The bridge does not need it on the hot path (libopus changes the rate inside
 * the codec for less: see opus.ts); it is kept for codecs or backends that
 * work at 48 kHz, and as the yardstick in bench/bridge-codec.ts.
 *
 * Any rational ratio (RationalResampler, e.g. 24 -> 16 kHz for the Silero VAD
 * of the demo backend): the same Kaiser design at up x the input rate.
 */

const TAPS = 63;
const CENTER = (TAPS - 1) / 2; // 31
const KAISER_BETA = 8;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/**
 * Windowed-sinc low-pass with `taps` (odd) coefficients, cutoff `fc` as a fraction of the
 * Nyquist rate, Kaiser window, unity DC gain.
 */
export function lowPassTaps(taps: number, fc: number, beta = KAISER_BETA): Float64Array {
  const h = new Float64Array(taps);
  const center = (taps - 1) / 2;
  const i0b = besselI0(beta);
  for (let n = 0; n < taps; n++) {
    const m = n - center;
    const sinc = m === 0 ? fc : Math.sin(Math.PI * fc * m) / (Math.PI * m);
    const r = m / center;
    h[n] = sinc * (besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b);
  }
  let sum = 0;
  for (const v of h) sum += v;
  for (let n = 0; n < taps; n++) h[n]! /= sum;
  return h;
}

/** Half-band low-pass (cutoff at a quarter of the input rate), unity DC gain. */
export const halfBandTaps = (): Float64Array => lowPassTaps(TAPS, 0.5);

const H = halfBandTaps();
/** The odd-offset taps (m = n - CENTER odd): the only nonzero ones besides the center. */
const ODD_IDX: number[] = [];
for (let n = 0; n < TAPS; n++) if ((n - CENTER) % 2 !== 0) ODD_IDX.push(n);
const ODD = Float64Array.from(ODD_IDX, (n) => H[n]!);
const H_CENTER = H[CENTER]!;

const clamp16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

/** 48 kHz -> 24 kHz. Feed any even number of samples; output is half as many. */
export class Downsampler {
  /** The last TAPS-1 input samples, then room for the new block. */
  private hist = new Float64Array(TAPS - 1);

  process(input: Int16Array): Int16Array {
    if (input.length % 2 !== 0) throw new RangeError("48 kHz input must have an even number of samples");
    const keep = TAPS - 1;
    const x = new Float64Array(keep + input.length);
    x.set(this.hist);
    for (let i = 0; i < input.length; i++) x[keep + i] = input[i]!;
    const out = new Int16Array(input.length / 2);
    for (let m = 0; m < out.length; m++) {
      // Output m is centred on input sample keep + 2m + 1 - CENTER ... i.e. the window ending at keep + 2m + 1.
      const end = keep + 2 * m + 1; // newest sample in the window (inclusive)
      const start = end - (TAPS - 1);
      let acc = H_CENTER * x[start + CENTER]!;
      for (let j = 0; j < ODD_IDX.length; j++) acc += ODD[j]! * x[start + ODD_IDX[j]!]!;
      out[m] = clamp16(acc);
    }
    this.hist = x.slice(x.length - keep);
    return out;
  }
}

/** 24 kHz -> 48 kHz. Output is twice as many samples as input. */
export class Upsampler {
  /** Past input samples (at 24 kHz) the filter still reaches. */
  private static readonly SPAN = Math.ceil(TAPS / 2);
  private hist = new Float64Array(Upsampler.SPAN);

  process(input: Int16Array): Int16Array {
    const keep = Upsampler.SPAN;
    const x = new Float64Array(keep + input.length);
    x.set(this.hist);
    for (let i = 0; i < input.length; i++) x[keep + i] = input[i]!;
    const out = new Int16Array(input.length * 2);
    // Zero-stuffed signal z[2k] = x[k], z[2k+1] = 0, filtered with 2h. Output sample t (at 48 kHz)
    // is sum_n 2 h[n] z[t - n]; only n with t - n even contribute.
    const base = 2 * keep; // z index of the first new input sample
    for (let o = 0; o < out.length; o++) {
      const t = base + o;
      let acc = 0;
      // n parity must match t's so that t - n is even.
      for (let n = t % 2 === 0 ? 0 : 1; n < TAPS; n += 2) {
        const h = H[n]!;
        if (h === 0) continue;
        const k = (t - n) / 2;
        if (k >= 0) acc += h * x[k]!;
      }
      out[o] = clamp16(2 * acc);
    }
    this.hist = x.slice(x.length - keep);
    return out;
  }
}

/**
 * up/down rate change (e.g. 2/3: 24 -> 16 kHz), PCM16 in, float samples (PCM16 scale, unclamped) out.
 * Polyphase: output m sits at m * down on the up-rate grid, where only every up-th sample is an
 * input, so each output needs about taps / up products. Allocation-free once its work buffer has
 * grown to the largest block fed.
 */
export class RationalResampler {
  /** phases[p][i] = up * h[p + i * up]: the taps that meet inputs for grid offset p. */
  private readonly phases: Float64Array[];
  /** Inputs one output reaches back over. */
  private readonly span: number;
  /** The last span inputs, then the block being processed. */
  private x: Float64Array;
  /** Up-rate grid index of the next output, relative to the block's first input. */
  private t = 0;

  readonly up: number;
  readonly down: number;

  /** `cutoff`: a fraction of the lower of the two Nyquist rates (below 1 leaves room for the transition). */
  constructor(up: number, down: number, taps = 95, cutoff = 0.85) {
    this.up = up;
    this.down = down;
    const h = lowPassTaps(taps, cutoff / Math.max(up, down));
    this.phases = [];
    for (let p = 0; p < up; p++) {
      const ph: number[] = [];
      for (let k = p; k < taps; k += up) ph.push(up * h[k]!);
      this.phases.push(Float64Array.from(ph));
    }
    this.span = Math.ceil(taps / up);
    this.x = new Float64Array(this.span + 1024);
  }

  /** Outputs that n more inputs can yield at most (size `out` for it). */
  maxOutput(n: number): number {
    return Math.ceil((n * this.up) / this.down) + 1;
  }

  /** Filters `input` into `out` (from index 0); returns how many outputs it wrote. */
  process(input: Int16Array, out: Float32Array): number {
    const { span, up, down } = this;
    if (this.x.length < span + input.length) {
      const grown = new Float64Array(span + input.length);
      grown.set(this.x.subarray(0, span));
      this.x = grown;
    }
    const x = this.x;
    for (let i = 0; i < input.length; i++) x[span + i] = input[i]!;
    let n = 0;
    let t = this.t;
    // The newest input an output needs is floor(t / up): it must be in this block.
    while (Math.floor(t / up) < input.length) {
      const j = Math.floor(t / up);
      const ph = this.phases[t - j * up]!;
      let acc = 0;
      for (let i = 0; i < ph.length; i++) acc += ph[i]! * x[span + j - i]!;
      out[n++] = acc;
      t += down;
    }
    this.t = t - input.length * up;
    x.copyWithin(0, input.length, input.length + span);
    return n;
  }
}

export const toInt16 = (b: Buffer): Int16Array =>
  new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
export const toBuffer = (a: Int16Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
