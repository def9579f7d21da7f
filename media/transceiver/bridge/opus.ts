/**
 * Opus for the bridge: the one module that touches the Opus packages.
 *
 * Native libopus (@discordjs/opus, built from the libopus source it ships by
 * `npm install`; .npmrc forbids fetching a prebuilt binary) when it built, or
 * opusscript (libopus 1.4 compiled to WebAssembly) when it did not (no C
 * compiler): an optional dependency, so the install never fails on it; the
 * worker logs which one it runs. VOICE_EDGE_OPUS=opusscript forces the
 * WebAssembly one (benchmarks compare both in one run: docs/bridge.md).
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
import { createLogger } from "../../runtime/log.ts";

const require = createRequire(import.meta.url);
const OpusScript = require("opusscript") as typeof OpusScriptType;

export type OpusImpl = "native" | "opusscript";

/** What opus.ts uses of @discordjs/opus (an optional dependency: not imported, not even for types). */
interface NativeOpus {
  encode(pcm: Buffer): Buffer;
  decode(packet: Buffer): Buffer;
  applyEncoderCTL(request: number, value: number): void;
}
type NativeOpusClass = new (rate: number, channels: number) => NativeOpus;

function loadNative(): NativeOpusClass | Error {
  if (process.env.VOICE_EDGE_OPUS === "opusscript") return new Error("VOICE_EDGE_OPUS=opusscript");
  try {
    return (require("@discordjs/opus") as { OpusEncoder: NativeOpusClass }).OpusEncoder;
  } catch (err) {
    return new Error((err as Error).message.split("\n")[0]);
  }
}
const Native = loadNative();
/** The codec this process uses by default. */
export const OPUS_IMPL: OpusImpl = Native instanceof Error ? "opusscript" : "native";
/** Why native libopus is not in use (undefined when it is). */
export const OPUS_FALLBACK_REASON = Native instanceof Error ? Native.message : undefined;
{
  const log = createLogger("transceiver");
  if (OPUS_FALLBACK_REASON === undefined)
    log.info({ opus: "native" }, "opus: native libopus (@discordjs/opus)");
  else
    log.warn(
      { opus: "opusscript", reason: OPUS_FALLBACK_REASON },
      "opus: native libopus unavailable (@discordjs/opus did not build: it needs a C compiler and python3), using opusscript (WebAssembly, ~1.5x the CPU). Retry with: npm rebuild @discordjs/opus",
    );
}

export type OpusRate = 24000 | 48000;
/** 20 ms frames: what WebRTC clients send and what the pacer plays. */
export const FRAME_MS = 20;
/** RTP timestamp units per 20 ms Opus frame (the RTP clock is 48 kHz). */
export const RTP_FRAME_TICKS = 960;

const OPUS_SET_APPLICATION = 4000;
const OPUS_APPLICATION_VOIP = 2048;
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;

/** Chosen by measurement (docs/bridge.md, "Encoder settings"). */
export const DEFAULT_BITRATE = 32000;
/** libwebrtc's own choice on mobile: 0.56x the encoder CPU of 9 (its desktop default) here. */
export const DEFAULT_COMPLEXITY = 5;

export interface EncoderOptions {
  rate?: OpusRate;
  bitrate?: number;
  complexity?: number;
  /** Default: OPUS_IMPL. */
  impl?: OpusImpl;
}

/** Samples of one 20 ms frame at the given rate. */
export const frameSamples = (rate: number): number => (rate * FRAME_MS) / 1000;

/** What both packages offer, one direction at a time. */
interface Codec {
  encode(pcm: Buffer, samples: number): Buffer;
  decode(packet: Buffer): Buffer;
  ctl(request: number, value: number): void;
  free(): void;
}

function createCodec(rate: OpusRate, impl: OpusImpl): Codec {
  if (impl === "native") {
    if (Native instanceof Error) throw new Error(`native libopus unavailable: ${Native.message}`);
    // One native object holds an encoder and a decoder, each created on first use; freed by the GC.
    const c = new Native(rate, 1);
    return {
      encode: (pcm) => c.encode(pcm),
      decode: (packet) => c.decode(packet),
      ctl: (request, value) => c.applyEncoderCTL(request, value),
      free: () => {},
    };
  }
  const c = new OpusScript(rate, 1, OpusScript.Application.VOIP);
  return {
    encode: (pcm, samples) => c.encode(pcm, samples),
    decode: (packet) => c.decode(packet),
    ctl: (request, value) => c.encoderCTL(request, value),
    free: () => c.delete(),
  };
}

export class OpusEncoder {
  readonly rate: OpusRate;
  readonly frameSamples: number;
  readonly impl: OpusImpl;
  private codec: Codec | undefined;

  constructor(o: EncoderOptions = {}) {
    this.rate = o.rate ?? 24000;
    this.frameSamples = frameSamples(this.rate);
    this.impl = o.impl ?? OPUS_IMPL;
    const c = createCodec(this.rate, this.impl);
    // @discordjs/opus creates its encoder for OPUS_APPLICATION_AUDIO; speech wants VOIP (as opusscript's).
    c.ctl(OPUS_SET_APPLICATION, OPUS_APPLICATION_VOIP);
    c.ctl(OPUS_SET_BITRATE, o.bitrate ?? DEFAULT_BITRATE);
    c.ctl(OPUS_SET_COMPLEXITY, o.complexity ?? DEFAULT_COMPLEXITY);
    // No OPUS_SET_SIGNAL(voice) hint: at 24 kHz / 32 kbit/s it forces SILK and made encoding ~4x
    // dearer (~450 vs ~120 µs per frame, docs/bridge.md); libopus picks its mode itself.
    c.ctl(OPUS_SET_INBAND_FEC, 0);
    this.codec = c;
  }

  /** Encodes one 20 ms frame of PCM16 (little-endian, mono; exactly frameSamples samples). */
  encode(pcm: Buffer): Buffer {
    if (!this.codec) throw new Error("encoder freed");
    if (pcm.length !== this.frameSamples * 2)
      throw new RangeError(`an Opus frame is ${this.frameSamples * 2} bytes, got ${pcm.length}`);
    return this.codec.encode(pcm, this.frameSamples);
  }

  /** Frees the codec's memory (WebAssembly's at once; native's at GC); unusable afterwards. */
  free(): void {
    this.codec?.free();
    this.codec = undefined;
  }
}

export class OpusDecoder {
  readonly rate: OpusRate;
  readonly impl: OpusImpl;
  private codec: Codec | undefined;

  constructor(rate: OpusRate = 24000, impl: OpusImpl = OPUS_IMPL) {
    this.rate = rate;
    this.impl = impl;
    this.codec = createCodec(rate, impl);
  }

  /** Decodes one Opus packet to PCM16 (little-endian, mono). Throws on a corrupt packet. */
  decode(packet: Buffer): Buffer {
    if (!this.codec) throw new Error("decoder freed");
    if (packet.length === 0) throw new RangeError("empty Opus packet");
    return this.codec.decode(packet);
  }

  free(): void {
    this.codec?.free();
    this.codec = undefined;
  }
}
