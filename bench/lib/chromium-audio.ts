/**
 * N live Chromium calls for the recovery benchmarks: one headless Chromium
 * (fake microphone), N peer connections in one page, each posting its offer
 * to a transceiver's session API (through `startOfferPage`), its audio echoed
 * back. A sampler reads every call's inbound audio from `getStats()` every
 * `sampleMs`: packets received and `lastPacketReceivedTimestamp`
 * (epoch ms, the clock of Date.now()), which gives the time of the last
 * packet before a gap and of the first after it whatever the sampling period
 * (a gap is read between two distinct values). Chromium refreshes its stats
 * in steps of several tens of ms, so a steady call shows gaps of that size
 * too: measure the steady state in the same run as the reference.
 */
import { launchChromium } from "../../test/support/chromium.ts";
import { startOfferPage } from "../../test/support/offer-page.ts";

interface Sample {
  /** Date.now() in the page (the machine's one clock). */
  t: number;
  received: number;
  /** When the last packet came (epoch ms), or undefined before the first. */
  last: number | undefined;
}

export interface ChromiumAudioCalls {
  count: number;
  /** Per call: the longest stretch without a received audio packet within [from, to] (Date.now() ms). */
  gaps(from: number, to: number): Promise<number[]>;
  /** Per call: ms from `at` (Date.now()) to its first packet received after it, or Infinity. */
  resumeAfter(at: number): Promise<number[]>;
  close(): Promise<void>;
}

export async function openChromiumAudioCalls(
  transceiverUrl: string,
  n: number,
  sampleMs = 20,
): Promise<ChromiumAudioCalls> {
  const offers = await startOfferPage(transceiverUrl);
  const chromium = await launchChromium();
  const tab = await chromium.context.newPage();
  await tab.goto(offers.url);
  await tab.evaluate(
    async ({ n, sampleMs }) => {
      const pcs: RTCPeerConnection[] = [];
      for (let i = 0; i < n; i++) {
        const pc = await window.veTest.micPeer();
        pc.createDataChannel("oai-events");
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
        if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
        const { sdp } = (await res.json()) as { sdp: string };
        await pc.setRemoteDescription({ type: "answer", sdp });
        await window.veTest.connected(pc, 20_000);
        pcs.push(pc);
      }
      const samples: Sample[][] = pcs.map(() => []);
      const w = window as unknown as {
        vr: { samples: Sample[][]; sampling: boolean; pcs: RTCPeerConnection[] };
      };
      w.vr = { samples, sampling: true, pcs };
      void (async () => {
        while (w.vr.sampling) {
          const t = Date.now();
          await Promise.all(
            pcs.map(async (pc, i) => {
              const s: Sample = { t, received: 0, last: undefined };
              (await pc.getStats()).forEach((r) => {
                if (r.type !== "inbound-rtp" || r.kind !== "audio") return;
                s.received = r.packetsReceived ?? 0;
                s.last = r.lastPacketReceivedTimestamp;
              });
              samples[i]!.push(s);
            }),
          );
          await new Promise((r) => setTimeout(r, sampleMs));
        }
      })();
    },
    { n, sampleMs },
  );
  const read = () => tab.evaluate(() => (window as unknown as { vr: { samples: Sample[][] } }).vr.samples);
  return {
    count: n,
    async gaps(from, to) {
      return (await read()).map((xs) => longestGap(xs, from, to));
    },
    async resumeAfter(at) {
      return (await read()).map((xs) => {
        const back = xs.find((s) => s.last !== undefined && s.last > at);
        return back ? Math.round(back.last! - at) : Number.POSITIVE_INFINITY;
      });
    },
    async close() {
      await tab
        .evaluate(() => {
          const vr = (window as unknown as { vr: { sampling: boolean; pcs: RTCPeerConnection[] } }).vr;
          vr.sampling = false;
          for (const pc of vr.pcs) pc.close();
        })
        .catch(() => {});
      await chromium.close();
      offers.close();
    },
  };
}

/** The longest stretch without a packet in one call's samples within [from, to] (ms, rounded). */
function longestGap(xs: Sample[], from: number, to: number): number {
  // As longestSilence() of werift calls: from, the packet times within the window, to.
  const times = [from];
  for (const s of xs) if (s.last !== undefined && s.last > times.at(-1)! && s.last < to) times.push(s.last);
  times.push(to);
  let worst = 0;
  for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i]! - times[i - 1]!);
  return Math.round(worst);
}
