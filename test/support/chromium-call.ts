/**
 * Calls from headless Chromium through the edge's Realtime-API endpoint
 * (`POST /v1/realtime/calls`), for tests and benches that watch what the
 * browser sees: a sampler reads `getStats()` every `sampleMs` (inbound audio:
 * packets received and lost, concealment, jitter buffer; the selected pair's
 * round trip and protocol), so gaps and recovery can be read off afterwards.
 */
import type { Page } from "playwright-core";

export interface CallSample {
  /** performance.now() in the page. */
  t: number;
  packetsReceived: number;
  packetsLost: number;
  concealedSamples: number;
  totalSamplesReceived: number;
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  /** The selected candidate pair's current RTT (s), if known. */
  rtt: number | undefined;
  /** The selected pair's local candidate protocol ("udp", "tcp"), if known. */
  protocol: string | undefined;
  connectionState: string;
}

export interface ChromiumCall {
  /** Offer posted -> answer received (signaling: edge and transceiver), ms. */
  answeredMs: number;
  /** Offer posted -> connectionState "connected" (ms), and -> data channel open. */
  connectedMs: number;
  channelOpenMs: number;
  /** With `firstEcho`: channel open -> the echo of a first message (the transceiver's echo mode), ms. */
  firstEchoMs: number | undefined;
  callId: string;
  /** The page's performance.now() when the call connected. */
  connectedAt: number;
}

export interface ChromiumCallOptions {
  edgeUrl: string;
  apiKey?: string;
  sampleMs?: number;
  /** Give up on connecting after this long (ms). */
  connectTimeoutMs?: number;
  /** Time a first data-channel message's echo (echo mode only). */
  firstEcho?: boolean;
}

/** Opens the edge's demo page (same origin as the API) and clicks once, so the page may play audio. */
export async function openCallPage(page: Page, edgeUrl: string): Promise<void> {
  await page.goto(`${edgeUrl}/`);
  await page.evaluate(() => {
    const b = document.createElement("button");
    b.id = "ve-gesture";
    b.textContent = "gesture";
    document.body.prepend(b);
  });
  await page.click("#ve-gesture");
}

/** Starts a call in the page (one at a time); resolves once it is connected and its channel open. */
export function startChromiumCall(page: Page, o: ChromiumCallOptions): Promise<ChromiumCall> {
  return page.evaluate(
    async ({ apiKey, sampleMs, connectTimeoutMs, firstEcho }) => {
      type W = typeof window & { ve?: Record<string, unknown> };
      const w = window as W;
      const pc = await w.veTest.micPeer();
      w.veTest.playRemoteAudio(pc);
      const channel = pc.createDataChannel("oai-events");
      const samples: unknown[] = [];
      await pc.setLocalDescription(await pc.createOffer());
      const t0 = performance.now();
      const connected = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`not connected: ${pc.connectionState}`)),
          connectTimeoutMs,
        );
        pc.addEventListener("connectionstatechange", () => {
          if (pc.connectionState === "connected") {
            clearTimeout(timer);
            resolve(performance.now());
          } else if (pc.connectionState === "failed") {
            clearTimeout(timer);
            reject(new Error("connection failed"));
          }
        });
      });
      const open = new Promise<number>((resolve) =>
        channel.addEventListener("open", () => resolve(performance.now()), { once: true }),
      );
      const res = await fetch("/v1/realtime/calls", {
        method: "POST",
        headers: { "content-type": "application/sdp", authorization: `Bearer ${apiKey}` },
        body: pc.localDescription!.sdp,
      });
      if (res.status !== 201) throw new Error(`call: ${res.status} ${await res.text()}`);
      const callId = (res.headers.get("location") ?? "").split("/").pop() ?? "";
      const answer = await res.text();
      const answered = performance.now();
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
      const [t1, t2] = await Promise.all([connected, open]);
      let firstEchoMs: number | undefined;
      if (firstEcho) {
        await new Promise<void>((resolve) => {
          channel.addEventListener("message", () => resolve(), { once: true });
          channel.send("first");
        });
        firstEchoMs = performance.now() - t2;
      }
      const sample = async () => {
        const s: Record<string, unknown> = { t: performance.now(), connectionState: pc.connectionState };
        const stats = await pc.getStats();
        let pair: string | undefined;
        stats.forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "audio")
            for (const k of [
              "packetsReceived",
              "packetsLost",
              "concealedSamples",
              "totalSamplesReceived",
              "jitterBufferDelay",
              "jitterBufferEmittedCount",
            ])
              s[k] = r[k] ?? 0;
          if (r.type === "transport") pair = r.selectedCandidatePairId;
        });
        const p = pair ? stats.get(pair) : undefined;
        s.rtt = p?.currentRoundTripTime;
        s.protocol = p ? stats.get(p.localCandidateId)?.protocol : undefined;
        samples.push(s);
      };
      const ve = { pc, channel, samples, sampling: true, callId };
      w.ve = ve;
      void (async () => {
        while (ve.sampling) {
          await sample();
          await new Promise((r) => setTimeout(r, sampleMs));
        }
      })();
      return {
        answeredMs: answered - t0,
        connectedMs: t1 - t0,
        channelOpenMs: t2 - t0,
        firstEchoMs,
        callId,
        connectedAt: t1,
      };
    },
    {
      apiKey: o.apiKey ?? "sk-voice-edge-dev-key",
      sampleMs: o.sampleMs ?? 50,
      connectTimeoutMs: o.connectTimeoutMs ?? 20_000,
      firstEcho: o.firstEcho ?? false,
    },
  );
}

/** The samples taken so far (the page's clock). */
export function callSamples(page: Page): Promise<CallSample[]> {
  return page.evaluate(() => (window as typeof window & { ve: { samples: CallSample[] } }).ve.samples);
}

/** Audio packets the call received after page time `since` (by default: all of them). */
export function packetsSince(samples: CallSample[], since = Number.NEGATIVE_INFINITY): number {
  const base = samples.findLast((x) => x.t <= since)?.packetsReceived ?? 0;
  return (samples.at(-1)?.packetsReceived ?? 0) - base;
}

/** The page's performance.now(). */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** Echo round trip on the call's data channel (the transceiver's echo), ms. */
export function channelRoundTrip(page: Page, text: string): Promise<number> {
  return page.evaluate(async (text) => {
    const { channel } = (window as typeof window & { ve: { channel: RTCDataChannel } }).ve;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const on = (e: MessageEvent) => {
        if (String(e.data) === text) {
          channel.removeEventListener("message", on);
          resolve();
        }
      };
      channel.addEventListener("message", on);
      channel.send(text);
    });
    return performance.now() - t0;
  }, text);
}

export function endChromiumCall(page: Page): Promise<void> {
  return page.evaluate(() => {
    const ve = (window as typeof window & { ve?: { pc: RTCPeerConnection; sampling: boolean } }).ve;
    if (!ve) return;
    ve.sampling = false;
    ve.pc.close();
  });
}

/**
 * The longest stretch within [from, to] (page clock) in which no audio packet arrived: from the
 * last sample before it that saw packets grow to the first one after it that did (ms).
 */
export function longestAudioGap(samples: CallSample[], from: number, to: number): number {
  const xs = samples.filter((s) => s.t >= from && s.t <= to);
  let worst = 0;
  let lastGrowth = xs[0]?.t ?? from;
  for (let i = 1; i < xs.length; i++) {
    if (xs[i]!.packetsReceived > xs[i - 1]!.packetsReceived) {
      worst = Math.max(worst, xs[i]!.t - lastGrowth);
      lastGrowth = xs[i]!.t;
    }
  }
  const end = xs.at(-1)?.t ?? to;
  return Math.max(worst, end - lastGrowth);
}

/**
 * ICE restart as a browser does it after a network change: `pc.restartIce()`, a new offer (new ICE
 * credentials) re-posted to the call (`POST /v1/realtime/calls/{call_id}`), the answer applied.
 * Resolves with the answer's server ufrag.
 */
export function restartChromiumIce(page: Page, apiKey = "sk-voice-edge-dev-key"): Promise<string> {
  return page.evaluate(async (apiKey) => {
    const { pc, callId } = (window as typeof window & { ve: { pc: RTCPeerConnection; callId: string } }).ve;
    pc.restartIce();
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`/v1/realtime/calls/${callId}`, {
      method: "POST",
      headers: { "content-type": "application/sdp", authorization: `Bearer ${apiKey}` },
      body: pc.localDescription!.sdp,
    });
    if (res.status !== 200) throw new Error(`restart: ${res.status} ${await res.text()}`);
    const sdp = await res.text();
    await pc.setRemoteDescription({ type: "answer", sdp });
    return /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? "";
  }, apiKey);
}
