/**
 * A voice client for bridge tests and benchmarks: the werift test client plus
 * real Opus audio (48 kHz, 20 ms frames, as a browser sends), a microphone
 * loop that keeps sending (silence when there is nothing to say), the
 * `oai-events` channel as parsed events, and what it hears, with arrival times.
 */
import { expect } from "vitest";
import { RtpHeader, RtpPacket } from "werift";
import { OpusDecoder, OpusEncoder } from "../../media/transceiver/bridge/opus.ts";
import { Waiters } from "./waiters.ts";
import { createTestClient, type TestClient } from "./werift-client.ts";

export const RATE = 48000;
export const FRAME = 960; // samples per 20 ms at 48 kHz
export const epochMs = (): number => performance.timeOrigin + performance.now();

export type Json = Record<string, unknown>;
export interface Heard {
  seq: number;
  ts: number;
  marker: boolean;
  payload: Buffer;
  at: number;
}
export interface Received {
  event: Json;
  at: number;
}

/** PCM16 frames (48 kHz, 20 ms) of a tone with harmonics, like a voiced vowel. */
export function tone(ms: number, freq = 220, amp = 0.3): Buffer[] {
  const frames: Buffer[] = [];
  const n = Math.round(ms / 20);
  let ph = 0;
  for (let f = 0; f < n; f++) {
    const b = Buffer.alloc(FRAME * 2);
    for (let i = 0; i < FRAME; i++) {
      ph += (2 * Math.PI * freq) / RATE;
      const v = amp * (0.7 * Math.sin(ph) + 0.2 * Math.sin(2 * ph) + 0.1 * Math.sin(3 * ph));
      b.writeInt16LE(Math.round(v * 32767), i * 2);
    }
    frames.push(b);
  }
  return frames;
}

export function silence(ms: number): Buffer[] {
  return Array.from({ length: Math.round(ms / 20) }, () => Buffer.alloc(FRAME * 2));
}

/** Magnitude of `freq` in PCM16 (Goertzel), relative to full scale. */
export function toneLevel(pcm: Int16Array, freq: number, rate = RATE): number {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (const x of pcm) {
    const s = x / 32768 + c * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - c * s1 * s2)) / (pcm.length / 2);
}

/** Asserts that `pcm` is the `freq` tone: audible, and ten times louder there than at `other` (another tone, say). */
export function expectTone(pcm: Int16Array, freq: number, other: number, rate = RATE): void {
  const level = toneLevel(pcm, freq, rate);
  expect(level).toBeGreaterThan(0.05);
  expect(level).toBeGreaterThan(10 * toneLevel(pcm, other, rate));
}

/** The types of the events a client has received, from index `from`. */
export const eventTypes = (vc: VoiceClient, from = 0): string[] =>
  vc.events.slice(from).map((e) => e.event.type as string);

export interface VoiceClient {
  client: TestClient;
  events: Received[];
  heard: Heard[];
  /** When each queued speech frame actually left (epoch ms), in order. */
  sent: { at: number; speech: boolean }[];
  offer(): Promise<string>;
  answer(sdp: string): Promise<void>;
  ready(): Promise<void>;
  /** Resolves once the oai-events channel is closed. */
  channelClosed(): Promise<void>;
  send(event: Json | string): void;
  /** Waits for the n-th (default first) event of a type matching `pred`, counting from `from`. */
  waitEvent(
    type: string,
    o?: { from?: number; pred?: (e: Json) => boolean; timeoutMs?: number },
  ): Promise<Received>;
  /** Resolves when `cond` holds, checked on every event and packet heard. */
  until(cond: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Starts the microphone: one frame (or `framesPerTick`) every 20 ms, queued speech or else silence. */
  startMic(framesPerTick?: number): void;
  /** Queues frames; resolves when the last has been sent. */
  say(frames: Buffer[], speech?: boolean): Promise<void>;
  stopMic(): void;
  /** Decodes heard packets (in order) to 48 kHz PCM. */
  decode(packets: Heard[]): Int16Array;
  close(): Promise<void>;
}

export function createVoiceClient(): VoiceClient {
  const client = createTestClient();
  const encoder = new OpusEncoder({ rate: RATE });
  const events: Received[] = [];
  const heard: Heard[] = [];
  const sent: { at: number; speech: boolean }[] = [];
  const waiters = new Waiters();
  const wake = () => waiters.wake();
  client.pc.getTransceivers()[0]!.onTrack.subscribe((track) =>
    track.onReceiveRtp.subscribe((rtp) => {
      heard.push({
        seq: rtp.header.sequenceNumber,
        ts: rtp.header.timestamp,
        marker: rtp.header.marker,
        payload: Buffer.from(rtp.payload),
        at: epochMs(),
      });
      wake();
    }),
  );
  client.channel.onMessage.subscribe((m) => {
    events.push({ event: JSON.parse(String(m)) as Json, at: epochMs() });
    wake();
  });

  let seq = Math.floor(Math.random() * 30000);
  let ts = Math.floor(Math.random() * 1e6);
  let first = true;
  const queue: { frame: Buffer; speech: boolean; done?: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let next = 0;
  const silent = encoder.encode(Buffer.alloc(FRAME * 2));
  /** Frames sent per 20 ms tick (1: real time; more: a client that sends faster than it should). */
  let perTick = 1;
  const tick = () => {
    for (let k = 0; k < perTick; k++) {
      const item = queue.shift();
      const payload = item ? encoder.encode(item.frame) : silent;
      const header = new RtpHeader({
        payloadType: 111,
        sequenceNumber: seq,
        timestamp: ts >>> 0,
        marker: first,
      });
      seq = (seq + 1) & 0xffff;
      ts += FRAME;
      first = false;
      client.audioOut.writeRtp(new RtpPacket(header, payload));
      sent.push({ at: epochMs(), speech: item?.speech ?? false });
      item?.done?.();
    }
    next += 20;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };

  const vc: VoiceClient = {
    client,
    events,
    heard,
    sent,
    offer: () => client.offer(),
    answer: (sdp) => client.answer(sdp),
    async ready() {
      await client.connected();
      await client.channelOpen();
    },
    channelClosed() {
      const { channel } = client;
      if (channel.readyState === "closed") return Promise.resolve();
      return new Promise((resolve) => channel.stateChanged.subscribe((s) => s === "closed" && resolve()));
    },
    send(event) {
      client.channel.send(typeof event === "string" ? event : JSON.stringify(event));
    },
    waitEvent(type, o = {}) {
      const from = o.from ?? 0;
      const find = () =>
        events.find((r, i) => i >= from && r.event.type === type && (!o.pred || o.pred(r.event)));
      const ms = o.timeoutMs ?? 5000;
      return waiters.until(find, ms, () => {
        const seen = events.slice(from).map((r) => r.event.type);
        return `no ${type} event within ${ms} ms; saw: ${seen.join(", ")}`;
      });
    },
    async until(cond, what, timeoutMs = 5000) {
      await waiters.until(
        () => cond() || undefined,
        timeoutMs,
        () => `timed out waiting for ${what}`,
      );
    },
    startMic(framesPerTick = 1) {
      perTick = framesPerTick;
      if (timer) return;
      next = performance.now() + 20;
      timer = setTimeout(tick, 20);
    },
    say(frames, speech = true) {
      return new Promise((resolve) => {
        frames.forEach((frame, i) => {
          queue.push({ frame, speech, done: i === frames.length - 1 ? resolve : undefined });
        });
        if (frames.length === 0) resolve();
      });
    },
    stopMic() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    decode(packets) {
      const d = new OpusDecoder(RATE);
      const parts = packets.map((p) => d.decode(p.payload));
      d.free();
      const all = Buffer.concat(parts);
      return new Int16Array(all.buffer, all.byteOffset, all.length / 2);
    },
    async close() {
      vc.stopMic();
      encoder.free();
      await client.close();
    },
  };
  return vc;
}

/** Voice clients a file's tests make (`create`), closed together (`close`). */
export function voiceClients(): { create(): VoiceClient; close(): Promise<void> } {
  const made: VoiceClient[] = [];
  return {
    create() {
      const vc = createVoiceClient();
      made.push(vc);
      return vc;
    },
    async close() {
      await Promise.all(made.map((c) => c.close()));
    },
  };
}
