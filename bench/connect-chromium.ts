/**
 * Offer to connected for a real browser: headless Chromium (fake microphone)
 * posts its offer to the transceiver and connects through a relay, N times in
 * a row. Browsers do not wait before their DTLS ClientHello, unlike werift.
 *
 *   node bench/connect-chromium.ts [--calls 30]
 */

import { parseArgs } from "node:util";
import { chromiumMissing, launchChromium } from "../test/support/chromium.ts";
import { startOfferPage } from "../test/support/offer-page.ts";
import { startRelayedTransceiver } from "../test/support/stack.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "30" } } });
const CALLS = Number(values.calls);
const missing = chromiumMissing();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}

const relayed = await startRelayedTransceiver(1, { workers: 1 });
const { tx } = relayed;
const page = await startOfferPage(tx.url);
const chromium = await launchChromium();
const tab = await chromium.context.newPage();
await tab.goto(page.url);
const result = await tab.evaluate(async (calls: number) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const connected: number[] = [];
  const channelOpen: number[] = [];
  const answered: number[] = [];
  for (let i = 0; i < calls + 1; i++) {
    const pc = new RTCPeerConnection();
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    const channel = pc.createDataChannel("oai-events");
    await pc.setLocalDescription(await pc.createOffer());
    const t0 = performance.now();
    const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
    const { sdp } = (await res.json()) as { sdp: string };
    const t1 = performance.now();
    const up = new Promise<number>((resolve) => {
      pc.onconnectionstatechange = () => pc.connectionState === "connected" && resolve(performance.now());
    });
    const open = new Promise<number>((resolve) =>
      channel.addEventListener("open", () => resolve(performance.now())),
    );
    await pc.setRemoteDescription({ type: "answer", sdp });
    const [t2, t3] = await Promise.all([up, open]);
    if (i > 0) {
      // the first call warms up the transceiver (certificate) and the browser
      answered.push(t1 - t0);
      connected.push(t2 - t0);
      channelOpen.push(t3 - t0);
    }
    pc.close();
  }
  return { answered, connected, channelOpen };
}, CALLS);
const s = (xs: number[]) => xs.sort((a, b) => a - b);
const [a, c, o] = [s(result.answered), s(result.connected), s(result.channelOpen)];
report(
  "connect-chromium",
  [
    ["calls", CALLS],
    ["offer -> answer p50 / p99 (ms)", `${percentile(a, 50).toFixed(1)} / ${percentile(a, 99).toFixed(1)}`],
    [
      "offer -> connected p50 / p99 (ms)",
      `${percentile(c, 50).toFixed(1)} / ${percentile(c, 99).toFixed(1)}`,
    ],
    [
      "offer -> data channel open p50 / p99 (ms)",
      `${percentile(o, 50).toFixed(1)} / ${percentile(o, 99).toFixed(1)}`,
    ],
  ],
  {
    calls: CALLS,
    answerMs: { p50: percentile(a, 50), p99: percentile(a, 99) },
    connectedMs: { p50: percentile(c, 50), p99: percentile(c, 99) },
    channelOpenMs: { p50: percentile(o, 50), p99: percentile(o, 99) },
  },
);
await chromium.close();
page.close();
await relayed.close();
process.exit(0);
