/**
 * A real browser through the bridge: headless Chromium (fake microphone,
 * real Opus) -> relay -> transceiver (bridge mode) -> demo agent, and the
 * agent's answer back: Chromium decodes the paced Opus and reports it.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBackend, startBackendServer } from "../../media/backend/server.ts";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { chromiumMissing, withChromiumTab } from "../support/chromium.ts";
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
let backend: RunningBackend;
let page: OfferPage;

beforeAll(async () => {
  if (skip) return;
  backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
  relayed = await startRelayedTransceiver(6, {
    workers: 1,
    extraArgs: ["--backends", `default=${backend.url}`],
  });
  ({ relay, tx } = relayed);
  // The fake microphone never falls silent: no server VAD; the page commits the turn itself.
  page = await startOfferPage(tx.url, {
    session: { audio: { input: { turn_detection: null } } },
    html: "<!doctype html><title>voice-edge bridge</title><button id=call>call</button>",
  });
});

afterAll(async () => {
  page?.close();
  await tx?.stop("SIGINT");
  await backend?.close();
  await relay?.close();
});

describe.skipIf(skip)("bridge: headless Chromium -> relay -> transceiver -> demo agent", () => {
  it("the agent hears the browser's Opus and the browser plays the agent's paced answer", async () => {
    await withChromiumTab(async (tab) => {
      await tab.goto(page.url);
      await tab.click("#call"); // a user gesture: the page may play audio (autoplay policy)
      const result = await tab.evaluate(async () => {
        const pc = await window.veTest.micPeer();
        window.veTest.playRemoteAudio(pc);
        const channel = pc.createDataChannel("oai-events");
        const events: { type: string; [k: string]: unknown }[] = [];
        const waiters: (() => void)[] = [];
        channel.onmessage = (e) => {
          events.push(JSON.parse(String(e.data)));
          for (const w of waiters.splice(0)) w();
        };
        const waitEvent = (type: string) =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`no ${type}; saw ${events.map((e) => e.type)}`)),
              10_000,
            );
            const check = () => {
              const found = events.find((e) => e.type === type);
              if (found) {
                clearTimeout(t);
                resolve(found);
              } else waiters.push(check);
            };
            check();
          });
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch("/offer", { method: "POST", body: pc.localDescription!.sdp });
        const created = (await res.json()) as { id: string; sdp: string };
        await pc.setRemoteDescription({ type: "answer", sdp: created.sdp });
        await waitEvent("session.created");
        // Agents SDK style: update the session, wait for session.updated.
        channel.send(JSON.stringify({ type: "session.update", session: { instructions: "parrot" } }));
        await waitEvent("session.updated");
        // Let the microphone run for ~1 s, then end the turn by hand.
        await new Promise((r) => setTimeout(r, 1000));
        channel.send(JSON.stringify({ type: "input_audio_buffer.commit" }));
        await waitEvent("output_audio_buffer.started");
        await waitEvent("output_audio_buffer.stopped");
        let inbound: Record<string, number> = {};
        (await pc.getStats()).forEach((s) => {
          if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s;
        });
        // Closed after the listing is read below: a closed call leaves the listing at once.
        (window as unknown as { pc: RTCPeerConnection }).pc = pc;
        return { id: created.id, types: events.map((e) => e.type), inbound };
      });
      expect(result.types.slice(0, 2)).toEqual(["session.created", "session.updated"]);
      expect(result.types).toContain("response.done");
      // Chromium got every frame the bridge sent, in order, and decoded real audio from them.
      const res = await txFetch(`${tx.url}/v1/sessions`);
      const { sessions } = (await res.json()) as { sessions: SessionInfo[] };
      const info = sessions.find((x) => x.id === result.id);
      await tab.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.close());
      const sent = info?.bridge?.output.framesSent ?? 0;
      expect(sent).toBeGreaterThanOrEqual(40);
      expect(result.inbound.packetsReceived).toBe(sent);
      expect(result.inbound.packetsLost).toBe(0);
      expect(result.inbound.totalAudioEnergy).toBeGreaterThan(0);
      // The agent heard the browser: Opus decoded without errors.
      expect(info!.bridge!.decodeErrors).toBe(0);
      expect(info!.bridge!.input.packets).toBeGreaterThanOrEqual(40);
    });
  });
});
