/**
 * A real browser through the media path: headless Chromium with a fake
 * microphone -> relay -> transceiver (echo mode) and back.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { chromiumMissing, launchChromium } from "../support/chromium.ts";
import { type OfferPage, startOfferPage } from "../support/offer-page.ts";
import {
  type RelayedTransceiver,
  type SpawnedTransceiver,
  startRelayedTransceiver,
  txFetch,
} from "../support/stack.ts";

const skip = chromiumMissing();
let relay: Relay;
let relayed: RelayedTransceiver | undefined;
let tx: SpawnedTransceiver;
let page: OfferPage;

beforeAll(async () => {
  if (skip) return;
  relayed = await startRelayedTransceiver(5, { workers: 1 });
  ({ relay, tx } = relayed);
  page = await startOfferPage(tx.url);
});

afterAll(async () => {
  page?.close();
  await relayed?.close();
});

describe.skipIf(skip)("media path: headless Chromium -> relay -> transceiver", () => {
  it("connects, sends Opus from the fake microphone and counts the echoed audio in getStats", async () => {
    const chromium = await launchChromium();
    try {
      const tab = await chromium.context.newPage();
      await tab.goto(page.url);
      const result = await tab.evaluate(async () => {
        const pc = new RTCPeerConnection();
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        for (const t of stream.getTracks()) pc.addTrack(t, stream);
        const channel = pc.createDataChannel("oai-events");
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
        const created = (await res.json()) as { id: string; sdp: string };
        await pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`not connected: ${pc.connectionState}`)), 15_000);
          pc.onconnectionstatechange = () => {
            if (pc.connectionState === "connected") {
              clearTimeout(t);
              resolve();
            }
          };
        });
        if (channel.readyState !== "open")
          await new Promise((r) => channel.addEventListener("open", r, { once: true }));
        const echo = await new Promise<string>((r) => {
          channel.onmessage = (e) => r(String(e.data));
          channel.send("hello from chromium");
        });
        // Wait for echoed audio to show up in the inbound stats (bounded).
        let inbound = 0;
        for (let i = 0; i < 100 && inbound < 25; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const stats = await pc.getStats();
          stats.forEach((s) => {
            if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s.packetsReceived;
          });
        }
        let codec = "";
        (await pc.getStats()).forEach((s) => {
          if (s.type === "codec" && String(s.mimeType).startsWith("audio/")) codec ||= s.mimeType;
        });
        (window as unknown as { pc: RTCPeerConnection }).pc = pc;
        return { id: created.id, echo, inbound, codec };
      });
      expect(result.echo).toBe("hello from chromium");
      expect(result.inbound).toBeGreaterThanOrEqual(25);
      expect(result.codec.toLowerCase()).toBe("audio/opus");
      // The transceiver received the browser's Opus and echoed it.
      const res = await txFetch(`${tx.url}/v1/sessions`);
      const { sessions } = (await res.json()) as { sessions: SessionInfo[] };
      const s = sessions.find((x) => x.id === result.id);
      expect(s?.state).toBe("connected");
      expect(s!.echo.rtpIn).toBeGreaterThanOrEqual(25);
      expect(s!.echo.messages).toBe(1);
      expect(relay.stats.flowsVerified).toBeGreaterThanOrEqual(1);
      await tab.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.close());
    } finally {
      await chromium.close();
    }
  });
});
