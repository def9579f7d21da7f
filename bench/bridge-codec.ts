/**
 * Bridge codec cost per 20 ms frame: Opus (the process default: native
 * libopus, or opusscript without it) running at the backends' 24 kHz, against
 * running at 48 kHz with our half-band resampler in front/behind. Prints
 * per-frame microseconds and the CPU one full-duplex stream costs (50
 * frames/s each way).
 *
 *   node bench/bridge-codec.ts [--seconds 60] [--reps 5] [--streams 20]
 *
 * The C rows run `--streams` codec pairs round-robin, one frame each in
 * turn, as a worker does: many codec states compete for the caches.
 * The D rows do the same for each package (native, opusscript) and encoder
 * complexity at 24 kHz / DEFAULT_BITRATE, with the bytes per frame and the
 * SNR of decode(encode(x)) against x (best lag), to choose the settings by.
 */
import {
  DEFAULT_BITRATE,
  OPUS_IMPL,
  OpusDecoder,
  OpusEncoder,
  type OpusImpl,
} from "../media/transceiver/bridge/opus.ts";
import { Downsampler, toBuffer, toInt16, Upsampler } from "../media/transceiver/bridge/resampler.ts";
import { benchArgs } from "./lib/args.ts";
import { report, samples } from "./lib/report.ts";

const values = benchArgs({ seconds: 60, reps: 5, streams: 20 });
const STREAMS = values.streams;
const FRAMES = values.seconds * 50;
const REPS = values.reps;

/** Speech-like test signal: voiced bursts (f0 wobbling 110-180 Hz, harmonics) and pauses with faint noise. */
function speech(rate: number, frames: number): Buffer[] {
  const n = rate / 50;
  const out: Buffer[] = [];
  let ph = 0;
  for (let f = 0; f < frames; f++) {
    const b = Buffer.alloc(n * 2);
    const voiced = f % 50 < 35;
    const f0 = 145 + 35 * Math.sin(f / 7);
    for (let i = 0; i < n; i++) {
      ph += (2 * Math.PI * f0) / rate;
      const v = voiced
        ? 0.3 * Math.sin(ph) +
          0.15 * Math.sin(2 * ph) +
          0.08 * Math.sin(3 * ph) +
          0.01 * (Math.random() - 0.5)
        : 0.002 * (Math.random() - 0.5);
      b.writeInt16LE(Math.round(v * 32767), i * 2);
    }
    out.push(b);
  }
  return out;
}

/** Microseconds of CPU per call of fn over items (process CPU time, not wall). */
function cpuPer<T>(items: T[], fn: (x: T) => unknown): number {
  const t = process.cpuUsage();
  for (const x of items) fn(x);
  const u = process.cpuUsage(t);
  return (u.user + u.system) / items.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pcm24 = speech(24000, FRAMES);
const pcm48 = speech(48000, FRAMES);
// What arrives from clients: Opus made from 48 kHz audio (as browsers send).
const clientEnc = new OpusEncoder({ rate: 48000 });
const fromClient = pcm48.map((f) => clientEnc.encode(f));
clientEnc.free();

const runs = samples("dec24", "enc24", "dec48", "down", "up", "enc48");
// Warm-up: let V8 tier the WebAssembly up before anything is timed.
{
  const d = new OpusDecoder(24000);
  const e = new OpusEncoder({ rate: 24000 });
  for (let i = 0; i < Math.min(FRAMES, 500); i++) d.decode(e.encode(pcm24[i]!));
  d.free();
  e.free();
}
for (let r = 0; r < REPS; r++) {
  // A. Opus at 24 kHz (what the bridge does).
  const d24 = new OpusDecoder(24000);
  const e24 = new OpusEncoder({ rate: 24000 });
  runs.dec24.push(cpuPer(fromClient, (p) => d24.decode(p)));
  runs.enc24.push(cpuPer(pcm24, (f) => e24.encode(f)));
  d24.free();
  e24.free();
  // B. Opus at 48 kHz plus the resampler.
  const d48 = new OpusDecoder(48000);
  const e48 = new OpusEncoder({ rate: 48000 });
  const decoded48: Buffer[] = [];
  runs.dec48.push(cpuPer(fromClient, (p) => decoded48.push(d48.decode(p))));
  const down = new Downsampler();
  runs.down.push(cpuPer(decoded48, (f) => down.process(toInt16(f))));
  const up = new Upsampler();
  const up48: Buffer[] = [];
  runs.up.push(cpuPer(pcm24, (f) => up48.push(toBuffer(up.process(toInt16(f))))));
  runs.enc48.push(cpuPer(up48, (f) => e48.encode(f)));
  d48.free();
  e48.free();
}
// C. STREAMS decoder/encoder pairs at 24 kHz, round-robin.
const many = samples("dec", "enc");
for (let r = 0; r < REPS; r++) {
  const decs = Array.from({ length: STREAMS }, () => new OpusDecoder(24000));
  const encs = Array.from({ length: STREAMS }, () => new OpusEncoder({ rate: 24000 }));
  // Every stream gets contiguous audio (the same, in lockstep), one frame per stream in turn.
  const order = fromClient.map((_, i) => {
    const j = Math.floor(i / STREAMS);
    return { p: fromClient[j]!, f: pcm24[j]!, k: i % STREAMS };
  });
  many.dec.push(cpuPer(order, (o) => decs[o.k]!.decode(o.p)));
  many.enc.push(cpuPer(order, (o) => encs[o.k]!.encode(o.f)));
  for (const c of [...decs, ...encs]) c.free();
}
// D. Package x complexity, round-robin as in C.
const IMPLS: OpusImpl[] = OPUS_IMPL === "native" ? ["native", "opusscript"] : ["opusscript"];
const COMPLEXITIES = [0, 3, 5, 7, 9, 10];
/** SNR (dB) of y against x at the lag (the codec's delay) that fits best. */
function snr(x: Int16Array, y: Int16Array): number {
  let best = -Infinity;
  for (let lag = 0; lag < 400; lag += 1) {
    let sig = 0;
    let err = 0;
    for (let i = 0; i + lag < y.length && i < x.length; i++) {
      const d = y[i + lag]! - x[i]!;
      sig += x[i]! * x[i]!;
      err += d * d;
    }
    best = Math.max(best, 10 * Math.log10(sig / err));
  }
  return best;
}
const grid: { impl: OpusImpl; complexity: number; dec: number; enc: number; bytes: number; snrDb: number }[] =
  [];
for (const impl of IMPLS) {
  for (const complexity of COMPLEXITIES) {
    const decs = Array.from({ length: STREAMS }, () => new OpusDecoder(24000, impl));
    const encs = Array.from({ length: STREAMS }, () => new OpusEncoder({ rate: 24000, complexity, impl }));
    const order = fromClient.map((_, i) => {
      const j = Math.floor(i / STREAMS);
      return { p: fromClient[j]!, f: pcm24[j]!, k: i % STREAMS };
    });
    const dec = median(Array.from({ length: REPS }, () => cpuPer(order, (o) => decs[o.k]!.decode(o.p))));
    const enc = median(Array.from({ length: REPS }, () => cpuPer(order, (o) => encs[o.k]!.encode(o.f))));
    // Quality: 10 s of the signal through a fresh pair.
    const e = new OpusEncoder({ rate: 24000, complexity, impl });
    const d = new OpusDecoder(24000, impl);
    const src = pcm24.slice(0, 500);
    let bytes = 0;
    const out = src.map((f) => {
      const p = e.encode(f);
      bytes += p.length;
      return d.decode(p);
    });
    const snrDb = snr(toInt16(Buffer.concat(src)), toInt16(Buffer.concat(out)));
    grid.push({ impl, complexity, dec, enc, bytes: bytes / src.length, snrDb });
    for (const c of [...decs, ...encs, e, d]) c.free();
  }
}
const manyDec = median(many.dec);
const manyEnc = median(many.enc);
const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<
  keyof typeof runs,
  number
>;
const a = m.dec24 + m.enc24;
const b = m.dec48 + m.down + m.up + m.enc48;
const pct = (us: number) => (us * 50) / 1e4; // % of one core at 50 frames/s
report(
  `bridge codec (${OPUS_IMPL}): µs of CPU per 20 ms frame (median of ${REPS} runs of ${FRAMES} frames)`,
  [
    ["A  Opus decode at 24 kHz", m.dec24],
    ["A  Opus encode from 24 kHz", m.enc24],
    ["A  decode + encode", a],
    ["A  % of a core per full-duplex stream", pct(a)],
    ["B  Opus decode at 48 kHz", m.dec48],
    ["B  resample 48 -> 24 kHz", m.down],
    ["B  resample 24 -> 48 kHz", m.up],
    ["B  Opus encode from 48 kHz", m.enc48],
    ["B  decode + encode + resample", b],
    ["B  % of a core per full-duplex stream", pct(b)],
    ["codec streams per core (A, duplex)", Math.floor(100 / pct(a))],
    [`C  ${STREAMS} streams round-robin: decode at 24 kHz`, manyDec],
    [`C  ${STREAMS} streams round-robin: encode from 24 kHz`, manyEnc],
    ["C  % of a core per full-duplex stream", pct(manyDec + manyEnc)],
    ...grid.map((g): [string, string] => [
      `D  ${g.impl}, complexity ${g.complexity}: dec / enc µs, bytes/frame, SNR dB, % core`,
      `${g.dec.toFixed(1)} / ${g.enc.toFixed(1)}, ${g.bytes.toFixed(0)}, ${g.snrDb.toFixed(1)}, ${pct(g.dec + g.enc).toFixed(2)}`,
    ]),
  ],
  {
    frames: FRAMES,
    reps: REPS,
    us: m,
    a,
    b,
    pctCoreA: pct(a),
    pctCoreB: pct(b),
    streams: STREAMS,
    roundRobin: { dec: manyDec, enc: manyEnc, pctCore: pct(manyDec + manyEnc) },
    impl: OPUS_IMPL,
    bitrate: DEFAULT_BITRATE,
    grid,
  },
);
