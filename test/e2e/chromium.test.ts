/**
 * A real browser through the media path: headless Chromium with a fake
 * microphone -> relay -> transceiver (echo mode) and back.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { chromiumMissing, withChromiumTab } from "../support/chromium.ts";
import { type OfferPage, startOfferPage } from "../support/offer-page.ts";
import { relayedTransceiverForFile } from "../support/relayed-fixture.ts";
import { txFetch } from "../support/stack.ts";

const skip = chromiumMissing();

describe.skipIf(skip)("media path: headless Chromium -> relay -> transceiver", () => {
  const relayed = relayedTransceiverForFile(5, { workers: 1 });
  let page: OfferPage;
  beforeAll(async () => {
    page = await startOfferPage(relayed.tx.url);
  });
  afterAll(() => page?.close());

  it("connects, sends Opus from the fake microphone and counts the echoed audio in getStats", async () => {
    await withChromiumTab(async (tab) => {
      await tab.goto(page.url);
      const result = await tab.evaluate(async () => {
        const pc = await window.veTest.micPeer();
        const channel = pc.createDataChannel("oai-events");
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
        const created = (await res.json()) as { id: string; sdp: string };
        await pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
        await window.veTest.connected(pc, 15_000);
        const echo = await window.veTest.echo(channel, "hello from chromium");
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
      const res = await txFetch(`${relayed.tx.url}/v1/sessions`);
      const { sessions } = (await res.json()) as { sessions: SessionInfo[] };
      const s = sessions.find((x) => x.id === result.id);
      expect(s?.state).toBe("connected");
      expect(s!.echo.rtpIn).toBeGreaterThanOrEqual(25);
      expect(s!.echo.messages).toBe(1);
      expect(relayed.relay.stats.flowsVerified).toBeGreaterThanOrEqual(1);
      await tab.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.close());
    });
  });
});
