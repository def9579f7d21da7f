/**
 * Opus for the bridge: the one module that touches the Opus package.
 *
 * opusscript (libopus 1.4 compiled to WebAssembly) was picked over native
 * bindings by measurement (docs/bridge.md, "Opus package"): no build step, no
 * platform binary, and at 24 kHz it costs about as much as the native ones
 * decode (~20 µs per 20 ms frame) and ~1.5x on encode (~120 µs).
 *
 * The codec runs at 24 kHz, the backends' rate: libopus decodes straight to
 * 24 kHz (it drops the bands above 12 kHz in the frequency domain before it
 * synthesises, a correct anti-aliased rate change) and encodes 24 kHz input.
 * That is cheaper than decoding at 48 kHz and resampling (resampler.ts keeps
 * that path for comparison: bench/bridge-codec.ts). The RTP clock stays
 * 48 kHz whatever the codec's rate (RFC 7587).
 */
import { createRequire } from "node:module";
import type OpusScriptType from "opusscript";

const require = createRequire(import.meta.url);
const OpusScript = require("opusscript") as typeof OpusScriptType;

export type OpusRate = 24000 | 48000;
/** 20 ms frames: what WebRTC clients send and what the pacer plays. */
export const FRAME_MS = 20;
/** RTP timestamp units per 20 ms Opus frame (the RTP clock is 48 kHz). */
export const RTP_FRAME_TICKS = 960;

const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;

export interface EncoderOptions {
  rate?: OpusRate;
  bitrate?: number;
  complexity?: number;
}

/** Samples of one 20 ms frame at the given rate. */
export const frameSamples = (rate: number): number => (rate * FRAME_MS) / 1000;

export class OpusEncoder {
  readonly rate: OpusRate;
  readonly frameSamples: number;
  private codec: OpusScriptType | undefined;

  constructor(o: EncoderOptions = {}) {
    this.rate = o.rate ?? 24000;
    this.frameSamples = frameSamples(this.rate);
    const c = new OpusScript(this.rate, 1, OpusScript.Application.VOIP);
    c.setBitrate(o.bitrate ?? 32000);
    c.encoderCTL(OPUS_SET_COMPLEXITY, o.complexity ?? 9);
    // No OPUS_SET_SIGNAL(voice) hint: at 24 kHz / 32 kbit/s it forces SILK and made encoding ~4x
    // dearer (~450 vs ~120 µs per frame, docs/bridge.md); libopus picks its mode itself.
    c.encoderCTL(OPUS_SET_INBAND_FEC, 0);
    this.codec = c;
  }

  /** Encodes one 20 ms frame of PCM16 (little-endian, mono; exactly frameSamples samples). */
  encode(pcm: Buffer): Buffer {
    if (!this.codec) throw new Error("encoder freed");
    if (pcm.length !== this.frameSamples * 2)
      throw new RangeError(`an Opus frame is ${this.frameSamples * 2} bytes, got ${pcm.length}`);
    return this.codec.encode(pcm, this.frameSamples);
  }

  /** Frees the WebAssembly memory; the encoder is unusable afterwards. */
  free(): void {
    this.codec?.delete();
    this.codec = undefined;
  }
}

export class OpusDecoder {
  readonly rate: OpusRate;
  private codec: OpusScriptType | undefined;

  constructor(rate: OpusRate = 24000) {
    this.rate = rate;
    this.codec = new OpusScript(rate, 1, OpusScript.Application.VOIP);
  }

  /** Decodes one Opus packet to PCM16 (little-endian, mono). Throws on a corrupt packet. */
  decode(packet: Buffer): Buffer {
    if (!this.codec) throw new Error("decoder freed");
    if (packet.length === 0) throw new RangeError("empty Opus packet");
    return this.codec.decode(packet);
  }

  free(): void {
    this.codec?.delete();
    this.codec = undefined;
  }
}
