/**
 * N live Chromium calls for the recovery benchmarks: one headless Chromium
 * (fake microphone), N peer connections in one page, each posting its offer
 * to a transceiver's session API (through `startOfferPage`), its audio echoed
 * back. Each received audio frame is timed as it arrives, by an encoded
 * transform on the receiver (`encodedInsertableStreams`: Chromium hands the
 * page every frame before its jitter buffer), so a gap is exact to the page's
 * event loop, whatever the sampling. getStats alone (lastPacketReceivedTimestamp
 * or packetsReceived sampled every 20 ms) saw steady calls "gap" 117-148 ms
 * on a loaded machine: the sampler's own period, not the network's.
 */
import { launchChromium } from "../../test/support/chromium.ts";
import { startOfferPage } from "../../test/support/offer-page.ts";

export interface ChromiumAudioCalls {
  count: number;
  /** Per call: the longest stretch without a received audio frame within [from, to] (Date.now() ms). */
  gaps(from: number, to: number): Promise<number[]>;
  /** Per call: ms from `at` (Date.now()) to its first frame received after it, or Infinity. */
  resumeAfter(at: number): Promise<number[]>;
  close(): Promise<void>;
}

export async function openChromiumAudioCalls(transceiverUrl: string, n: number): Promise<ChromiumAudioCalls> {
  const offers = await startOfferPage(transceiverUrl);
  const chromium = await launchChromium();
  const tab = await chromium.context.newPage();
  await tab.goto(offers.url);
  await tab.evaluate(async (n) => {
    type Encoded = RTCRtpSender & {
      createEncodedStreams(): { readable: ReadableStream; writable: WritableStream };
    };
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const arrivals: number[][] = [];
    const pcs: RTCPeerConnection[] = [];
    for (let i = 0; i < n; i++) {
      const mine: number[] = [];
      arrivals.push(mine);
      // With encoded streams on, every sender and receiver must be piped, or its media stops.
      const pc = new RTCPeerConnection({ encodedInsertableStreams: true } as RTCConfiguration);
      for (const t of stream.getTracks()) {
        const { readable, writable } = (pc.addTrack(t, stream) as Encoded).createEncodedStreams();
        void readable.pipeTo(writable);
      }
      pc.addEventListener("track", (e) => {
        const { readable, writable } = (e.receiver as unknown as Encoded).createEncodedStreams();
        const timed = new TransformStream({
          transform(frame, out) {
            mine.push(Date.now());
            out.enqueue(frame);
          },
        });
        void readable.pipeThrough(timed).pipeTo(writable);
      });
      pc.createDataChannel("oai-events");
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
      if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
      const { sdp } = (await res.json()) as { sdp: string };
      await pc.setRemoteDescription({ type: "answer", sdp });
      await window.veTest.connected(pc, 20_000);
      pcs.push(pc);
    }
    (window as unknown as { vr: unknown }).vr = { arrivals, pcs };
  }, n);
  /** Each call's arrival times after `from` (the page keeps them all; a bench run is short). */
  const after = (from: number) =>
    tab.evaluate(
      (from) =>
        (window as unknown as { vr: { arrivals: number[][] } }).vr.arrivals.map((xs) =>
          xs.filter((t) => t > from),
        ),
      from,
    );
  return {
    count: n,
    async gaps(from, to) {
      return (await after(from)).map((xs) => {
        // As longestSilence() of werift calls: from, the arrivals within the window, to.
        const times = [from, ...xs.filter((t) => t < to), to];
        let worst = 0;
        for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
        return worst;
      });
    },
    async resumeAfter(at) {
      return (await after(at)).map((xs) => (xs.length ? xs[0]! - at : Number.POSITIVE_INFINITY));
    },
    async close() {
      await tab
        .evaluate(() => {
          for (const pc of (window as unknown as { vr: { pcs: RTCPeerConnection[] } }).vr.pcs) pc.close();
        })
        .catch(() => {});
      await chromium.close();
      offers.close();
    },
  };
}
