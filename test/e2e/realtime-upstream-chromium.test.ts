/**
 * Headless Chromium through the whole stack to a Realtime-WebSocket upstream
 * (the mock of test/support/realtime-mock.ts as the topology's "backend"): the
 * browser calls the edge as a web app does (ephemeral key, multipart offer
 * with a session), its fake microphone's beep reaches the upstream as PCM16,
 * the model's tone is decoded and analysed by the browser (Web Audio), the
 * output_audio_buffer events, barge-in and the browser's own clear with
 * truncation at what it received, and a fault: the browser gets the error
 * and sees the channel close. (werift clients: realtime-upstream.test.ts.)
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { chromiumMissing, launchChromium } from "../support/chromium.ts";
import { startOneRegionStack } from "../support/one-region-stack.ts";
import {
  type MockCall,
  type RealtimeMock,
  startRealtimeMock,
  UPSTREAM_RATE,
} from "../support/realtime-mock.ts";
import { pcm16 } from "../support/upstream-checks.ts";
import { type Json, toneLevel } from "../support/voice-client.ts";

const skip = chromiumMissing();
let stack: RunningStack;
let mock: RealtimeMock;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let tab: Page;

beforeAll(async () => {
  if (skip) return;
  mock = await startRealtimeMock();
  stack = await startOneRegionStack({
    cluster: 35,
    workers: 1,
    backend: `realtime+ws://127.0.0.1:${mock.port}/v1/realtime`,
  });
  chromium = await launchChromium();
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await stack?.close();
  await mock?.close();
});

async function clientSecret(session: Json): Promise<string> {
  const res = await fetch(`${stack.edge!.url}/v1/realtime/client_secrets`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-voice-edge-dev-key" },
    body: JSON.stringify({ session }),
  });
  return ((await res.json()) as { value: string }).value;
}

/** The page's side: one call, its events, and what Web Audio hears of the remote track. */
interface PageCall {
  events: Json[];
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  channelClosed: boolean;
  waitEvent(type: string, from?: number, pred?: (e: Json) => boolean): Promise<Json>;
  received(): Promise<number>;
  /** Resolves once the response has started and this many of its packets have arrived. */
  playing(responseId: string, packets: number): Promise<void>;
  /** Peak frequencies (Hz) of the remote audio, sampled every 50 ms until `until` resolves. */
  peaks(until: Promise<unknown>): Promise<number[]>;
}
declare global {
  interface Window {
    call: PageCall;
  }
}

/** Starts a call from the page: microphone, oai-events, multipart offer with the key and a session. */
async function startCall(page: Page, key: string, session: Json): Promise<Json> {
  return page.evaluate(
    async ({ key, session }) => {
      const pc = new RTCPeerConnection();
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of mic.getTracks()) pc.addTrack(t, mic);
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      pc.ontrack = (e) => {
        const stream = e.streams[0] ?? new MediaStream([e.track]);
        // Chromium feeds a remote track to Web Audio only while a media element plays it.
        const el = new Audio();
        el.muted = true;
        el.srcObject = stream;
        void el.play();
        ctx.createMediaStreamSource(stream).connect(analyser);
      };
      const channel = pc.createDataChannel("oai-events");
      const events: Record<string, unknown>[] = [];
      const waiters: (() => void)[] = [];
      channel.onmessage = (e) => {
        events.push(JSON.parse(String(e.data)));
        for (const w of waiters.splice(0)) w();
      };
      const call: PageCall = {
        events,
        pc,
        channel,
        channelClosed: false,
        waitEvent(type, from = 0, pred) {
          return new Promise((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`no ${type}; saw ${events.slice(from).map((e) => e.type)}`)),
              15_000,
            );
            const check = () => {
              const found = events.find((e, i) => i >= from && e.type === type && (!pred || pred(e)));
              if (found) {
                clearTimeout(t);
                resolve(found);
              } else waiters.push(check);
            };
            check();
          });
        },
        async received() {
          let n = 0;
          (await pc.getStats()).forEach((s) => {
            if (s.type === "inbound-rtp" && s.kind === "audio") n = s.packetsReceived;
          });
          return n;
        },
        async playing(responseId, packets) {
          await call.waitEvent("output_audio_buffer.started", 0, (e) => e.response_id === responseId);
          const start = await call.received();
          while ((await call.received()) - start < packets) await new Promise((r) => setTimeout(r, 20));
        },
        async peaks(until) {
          let done = false;
          void until.then(() => {
            done = true;
          });
          const bins = new Float32Array(analyser.frequencyBinCount);
          const hz = ctx.sampleRate / analyser.fftSize;
          const out: number[] = [];
          while (!done) {
            await new Promise((r) => setTimeout(r, 50));
            analyser.getFloatFrequencyData(bins);
            let best = 0;
            for (let i = Math.floor(100 / hz); i < Math.floor(4000 / hz); i++)
              if (bins[i]! > bins[best]!) best = i;
            if (best > 0 && bins[best]! > -80) out.push(best * hz);
          }
          return out;
        },
      };
      channel.onclose = () => {
        call.channelClosed = true;
        for (const w of waiters.splice(0)) w();
      };
      window.call = call;
      await ctx.resume();
      await pc.setLocalDescription(await pc.createOffer());
      const form = new FormData();
      form.set("sdp", pc.localDescription!.sdp);
      form.set("session", JSON.stringify(session));
      const res = await fetch("/v1/realtime/calls", {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: form,
      });
      if (res.status !== 201) throw new Error(`POST /v1/realtime/calls: ${res.status} ${await res.text()}`);
      await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
      return call.waitEvent("session.created");
    },
    { key, session },
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.skipIf(skip)("Realtime upstream: headless Chromium through the whole stack", () => {
  let up: MockCall;

  it("the browser's call configures the upstream; session.created/updated in the shapes the browser expects", async () => {
    tab = await chromium.context.newPage();
    // The edge's own origin (a secure context on 127.0.0.1); a click lets the page play audio.
    await tab.goto(`${stack.edge!.url}/`);
    await tab.click("#state");
    const key = await clientSecret({ type: "realtime", model: "gpt-realtime", instructions: "be brief" });
    const upstream = mock.next(15_000);
    const created = await startCall(tab, key, { audio: { output: { voice: "cedar" } } });
    up = await upstream;
    expect(up.url).toBe("/v1/realtime?model=gpt-realtime");
    expect((await up.waitFor("session.update")).session).toMatchObject({
      type: "realtime",
      instructions: "be brief",
      audio: { output: { voice: "cedar", format: { type: "audio/pcm", rate: 24000 } } },
    });
    expect(created).toMatchObject({
      type: "session.created",
      session: {
        object: "realtime.session",
        type: "realtime",
        model: "gpt-realtime",
        instructions: "be brief",
      },
    });
    const updated = await tab.evaluate(async () => {
      const from = window.call.events.length;
      window.call.channel.send(
        JSON.stringify({ type: "session.update", session: { type: "realtime", instructions: "shorter" } }),
      );
      return window.call.waitEvent("session.updated", from);
    });
    expect(updated.session).toMatchObject({ instructions: "shorter", audio: { output: { voice: "cedar" } } });
    await up.waitFor("session.update", (e) => (e.session as Json).instructions === "shorter");
  }, 60_000);

  it("the fake microphone's beep reaches the upstream as PCM16 24 kHz", async () => {
    // Two seconds of the fake device: it beeps a tone, between beeps it is silent.
    const from = up.audioBytes;
    await up.waitAudio(from + UPSTREAM_RATE * 2 * 2, 15_000);
    const input = pcm16(up.audio().subarray(from));
    let peak = 0;
    let peakLevel = 0;
    for (let f = 200; f <= 4000; f += 10) {
      const l = toneLevel(input, f, UPSTREAM_RATE);
      if (l > peakLevel) [peak, peakLevel] = [f, l];
    }
    let energy = 0;
    for (const x of input) energy += x * x;
    expect(Math.sqrt(energy / input.length)).toBeGreaterThan(100);
    // Chromium's fake device beeps at 400 Hz (media/audio/fake_audio_input_stream.cc): its tone,
    // standing well above the rest of the band.
    expect(Math.abs(peak - 400)).toBeLessThanOrEqual(20);
    expect(peakLevel).toBeGreaterThan(10 * toneLevel(input, peak * 1.37, UPSTREAM_RATE));
  });

  it("the browser decodes the model's 660 Hz, framed by output_audio_buffer.started/stopped", async () => {
    const { responseId } = up.respond({ ms: 2000, freq: 660 });
    const r = await tab.evaluate(async (responseId) => {
      const c = window.call;
      const from = c.events.length;
      const before = await c.received();
      await c.waitEvent("output_audio_buffer.started", 0, (e) => e.response_id === responseId);
      const stopped = c.waitEvent("output_audio_buffer.stopped", 0, (e) => e.response_id === responseId);
      const peaks = await c.peaks(stopped);
      return {
        peaks,
        packets: (await c.received()) - before,
        types: c.events.slice(from).map((e) => e.type),
      };
    }, responseId);
    expect(r.packets).toBeGreaterThanOrEqual(95);
    expect(r.peaks.length).toBeGreaterThanOrEqual(10);
    expect(Math.abs(median(r.peaks) - 660)).toBeLessThan(15);
    expect(r.types).not.toContain("response.output_audio.delta");
  }, 30_000);

  it("barge-in: speech_started stops what the browser receives, truncated at what it received", async () => {
    const before = await tab.evaluate(() => window.call.received());
    const { itemId, responseId } = up.respond({ ms: 5000, freq: 660 });
    await tab.evaluate((responseId) => window.call.playing(responseId, 25), responseId);
    up.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 3000, item_id: "item_in_b" });
    const truncate = await up.waitFor("conversation.item.truncate", (e) => e.item_id === itemId);
    const received = await tab.evaluate(async (responseId) => {
      const c = window.call;
      await c.waitEvent("output_audio_buffer.cleared", 0, (e) => e.response_id === responseId);
      await c.waitEvent("conversation.item.truncated");
      // Let stragglers land: a round trip through the channel and the upstream.
      const from = c.events.length;
      c.channel.send(JSON.stringify({ type: "conversation.item.retrieve", item_id: "x" }));
      return { n: await c.received(), from };
    }, responseId);
    await up.waitFor("conversation.item.retrieve");
    const got = (await tab.evaluate(() => window.call.received())) - before;
    expect(got).toBeGreaterThanOrEqual(25);
    expect(Math.abs((truncate.audio_end_ms as number) - got * 20)).toBeLessThanOrEqual(40);
    // Nothing more arrives after the clear (compared with what had arrived at the round trip).
    expect(got - (received.n - before)).toBeLessThanOrEqual(2);
  }, 30_000);

  it("the browser's response.cancel + output_audio_buffer.clear: honoured, truncated at what it received", async () => {
    const before = await tab.evaluate(() => window.call.received());
    const { itemId, responseId } = up.respond({ ms: 4000, freq: 550 });
    await tab.evaluate(async (responseId) => {
      const c = window.call;
      await c.playing(responseId, 15);
      c.channel.send(JSON.stringify({ type: "response.cancel" }));
      c.channel.send(JSON.stringify({ type: "output_audio_buffer.clear" }));
      await c.waitEvent("output_audio_buffer.cleared", 0, (e) => e.response_id === responseId);
    }, responseId);
    expect(await up.waitFor("response.cancel")).toEqual({ type: "response.cancel" });
    const truncate = await up.waitFor("conversation.item.truncate", (e) => e.item_id === itemId);
    await tab.evaluate(() => window.call.channel.send(JSON.stringify({ type: "input_audio_buffer.clear" })));
    await up.waitFor("input_audio_buffer.clear");
    const got = (await tab.evaluate(() => window.call.received())) - before;
    expect(Math.abs((truncate.audio_end_ms as number) - got * 20)).toBeLessThanOrEqual(40);
    expect(up.received.map((e) => e.type)).not.toContain("output_audio_buffer.clear");
  }, 30_000);

  it("an upstream that breaks the protocol: the browser gets an OpenAI-shaped error and sees the channel close", async () => {
    const from = await tab.evaluate(() => window.call.events.length);
    up.send("{ not json");
    const r = await tab.evaluate(async (from) => {
      const c = window.call;
      const error = await c.waitEvent("error", from);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("the channel did not close")), 10_000);
        const check = () => {
          if (c.channelClosed) {
            clearTimeout(t);
            resolve();
          } else setTimeout(check, 50);
        };
        check();
      });
      c.pc.close();
      return error;
    }, from);
    expect(r).toMatchObject({
      type: "error",
      error: { type: "server_error", code: "backend_protocol_error", param: null },
    });
    expect((await up.closed).code).toBe(1002);
  }, 30_000);
});
