import { describe, expect, it } from "vitest";
import {
  OPUS_FALLBACK_REASON,
  OPUS_IMPL,
  OpusDecoder,
  OpusEncoder,
  type OpusImpl,
} from "../../media/transceiver/bridge/opus.ts";
import {
  Downsampler,
  RationalResampler,
  toInt16,
  Upsampler,
} from "../../media/transceiver/bridge/resampler.ts";
import { toneLevel } from "../support/voice-client.ts";

function sine(freq: number, rate: number, samples: number, amp = 0.25): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}
const db = (x: number) => 20 * Math.log10(x);

// Native libopus when it built (CI checks that it did: .ci/run), opusscript always.
const IMPLS: OpusImpl[] = OPUS_IMPL === "native" ? ["native", "opusscript"] : ["opusscript"];
const PAIRS = IMPLS.flatMap((e) => IMPLS.map((d) => [e, d] as const));

describe("opus (native libopus, or opusscript: libopus in WebAssembly)", () => {
  it("uses native libopus unless it is unavailable or opusscript is forced, and says why", () => {
    expect(OPUS_IMPL === "native").toBe(OPUS_FALLBACK_REASON === undefined);
    if (process.env.VOICE_EDGE_OPUS === "opusscript") expect(OPUS_IMPL).toBe("opusscript");
  });

  it.each(
    PAIRS.flatMap(([e, d]) =>
      (
        [
          [24000, 24000],
          [48000, 24000],
          [24000, 48000],
        ] as const
      ).map(([er, dr]) => [er, dr, e, d] as const),
    ),
  )(
    "round-trips a 440 Hz tone encoded at %i Hz and decoded at %i Hz (%s -> %s)",
    (encRate, decRate, ei, di) => {
      const enc = new OpusEncoder({ rate: encRate, impl: ei });
      const dec = new OpusDecoder(decRate, di);
      const pcm = sine(440, encRate, encRate); // 1 s
      const frame = enc.frameSamples;
      const parts: Buffer[] = [];
      let bytes = 0;
      for (let i = 0; i < pcm.length; i += frame) {
        const packet = enc.encode(Buffer.from(pcm.buffer, i * 2, frame * 2));
        bytes += packet.length;
        const out = dec.decode(packet);
        expect(out.length).toBe((decRate / 50) * 2);
        parts.push(out);
      }
      enc.free();
      dec.free();
      const out = toInt16(Buffer.concat(parts)).subarray(decRate / 2); // past the codec's start-up
      expect(db(toneLevel(out, 440, decRate) / 0.25)).toBeGreaterThan(-1);
      expect(toneLevel(out, 1000, decRate)).toBeLessThan(0.01 * toneLevel(out, 440, decRate));
      expect(bytes * 8).toBeLessThan(40_000); // ~32 kbit/s
    },
  );

  it("refuses frames of the wrong size, empty packets and use after free", () => {
    const enc = new OpusEncoder();
    const dec = new OpusDecoder();
    expect(() => enc.encode(Buffer.alloc(100))).toThrow(/960 bytes/);
    expect(() => dec.decode(Buffer.alloc(0))).toThrow(/empty/);
    enc.free();
    dec.free();
    expect(() => enc.encode(Buffer.alloc(960))).toThrow(/freed/);
    expect(() => dec.decode(Buffer.alloc(3))).toThrow(/freed/);
  });

  it.each(IMPLS)("%s: a corrupt packet throws (the bridge counts it) and the decoder goes on", (impl) => {
    const enc = new OpusEncoder({ impl });
    const dec = new OpusDecoder(24000, impl);
    // Code-3 packet claiming 63 frames: more than the 120 ms a packet may hold.
    expect(() => dec.decode(Buffer.from([0xff, 0xff, 0xff]))).toThrow();
    expect(dec.decode(enc.encode(Buffer.alloc(960))).length).toBe(960);
    enc.free();
    dec.free();
  });
});

describe("resampler (half-band FIR, 48 <-> 24 kHz)", () => {
  it("keeps speech-band tones at 48 -> 24 kHz and keeps 18 kHz from folding back", () => {
    const pass = new Downsampler().process(sine(1000, 48000, 9600)).subarray(200);
    expect(Math.abs(db(toneLevel(pass, 1000, 24000) / 0.25))).toBeLessThan(0.2);
    // 18 kHz would alias to 6 kHz at 24 kHz.
    const stop = new Downsampler().process(sine(18000, 48000, 9600)).subarray(200);
    expect(db(toneLevel(stop, 6000, 24000) / 0.25)).toBeLessThan(-60);
  });

  it("keeps speech-band tones at 24 -> 48 kHz and leaves no image above 12 kHz", () => {
    const up = new Upsampler().process(sine(1000, 24000, 4800)).subarray(400);
    expect(Math.abs(db(toneLevel(up, 1000, 48000) / 0.25))).toBeLessThan(0.2);
    // Zero-stuffing images 1 kHz at 23 kHz; the filter must remove it.
    expect(db(toneLevel(up, 23000, 48000) / 0.25)).toBeLessThan(-60);
  });

  it("streams: any chunking gives the same output as one block", () => {
    const x = sine(3000, 48000, 4800);
    const whole = new Downsampler().process(x);
    const d = new Downsampler();
    const parts: Int16Array[] = [];
    for (let i = 0; i < x.length; i += 962) parts.push(d.process(x.subarray(i, Math.min(x.length, i + 962))));
    expect(Int16Array.from(parts.flatMap((p) => [...p]))).toEqual(whole);
    const y = sine(3000, 24000, 2400);
    const upWhole = new Upsampler().process(y);
    const u = new Upsampler();
    const upParts = [u.process(y.subarray(0, 1001)), u.process(y.subarray(1001))];
    expect(Int16Array.from(upParts.flatMap((p) => [...p]))).toEqual(upWhole);
  });
});

describe("resampler (rational, 24 -> 16 kHz)", () => {
  const run = (r: RationalResampler, x: Int16Array) => {
    const out = new Float32Array(r.maxOutput(x.length));
    return Int16Array.from(out.subarray(0, r.process(x, out)), Math.round);
  };
  it("keeps speech-band tones and keeps 11 kHz from folding back to 5 kHz", () => {
    const pass = run(new RationalResampler(2, 3), sine(1000, 24000, 7200));
    expect(pass.length).toBe(4800);
    expect(Math.abs(db(toneLevel(pass.subarray(200), 1000, 16000) / 0.25))).toBeLessThan(0.2);
    const stop = run(new RationalResampler(2, 3), sine(11000, 24000, 7200));
    expect(db(toneLevel(stop.subarray(200), 5000, 16000) / 0.25)).toBeLessThan(-60);
  });

  it("streams: any chunking gives the same output as one block", () => {
    const x = sine(2500, 24000, 4800);
    const whole = run(new RationalResampler(2, 3), x);
    const r = new RationalResampler(2, 3);
    const parts: number[] = [];
    for (let i = 0; i < x.length; i += 481) parts.push(...run(r, x.subarray(i, Math.min(x.length, i + 481))));
    expect(Int16Array.from(parts)).toEqual(whole);
  });
});
