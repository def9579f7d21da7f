/**
 * Headless Chromium over ICE-TCP through the whole stack: the edge's answer
 * offers only the ingress's passive TCP candidate (topology tcpOnly), so the
 * browser dials the ingress over TCP; the call runs ingress -> cluster relay
 * -> transceiver (echo) and back onto the browser's connection. getStats must
 * show a TCP candidate pair, with audio both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import { chromiumMissing, withChromiumTab } from "../support/chromium.ts";
import { txFetch } from "../support/stack.ts";
import { startTcpOnlyStack } from "../support/tcp.ts";

const skip = chromiumMissing();
let stack: RunningStack;

beforeAll(async () => {
  if (skip) return;
  stack = await startTcpOnlyStack(62);
});

afterAll(async () => {
  await stack?.close();
});

describe.skipIf(skip)("Chromium over ICE-TCP through the Global Relay", () => {
  it("connects over the ingress's TCP candidate: getStats shows a TCP pair, audio both ways, data channel echo", async () => {
    await withChromiumTab(async (tab) => {
      await tab.goto(`${stack.edge!.url}/`);
      const r = await tab.evaluate(async () => {
        const pc = await window.veTest.micPeer();
        const channel = pc.createDataChannel("oai-events");
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch("/v1/realtime/calls", {
          method: "POST",
          headers: { "content-type": "application/sdp", authorization: "Bearer sk-voice-edge-dev-key" },
          body: pc.localDescription!.sdp,
        });
        const answer = await res.text();
        if (res.status !== 201) throw new Error(`call: ${res.status} ${answer}`);
        await pc.setRemoteDescription({ type: "answer", sdp: answer });
        await window.veTest.connected(pc, 20_000);
        const echo = await window.veTest.echo(channel, "hello over tcp");
        let inbound = 0;
        let outbound = 0;
        for (let i = 0; i < 200 && inbound < 25; i++) {
          await new Promise((r) => setTimeout(r, 50));
          (await pc.getStats()).forEach((s) => {
            if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s.packetsReceived;
            if (s.type === "outbound-rtp" && s.kind === "audio") outbound = s.packetsSent;
          });
        }
        // The selected pair, as the transport reports it, and its two candidates.
        const stats = await pc.getStats();
        let pairId = "";
        stats.forEach((s) => {
          if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
        });
        const pair = stats.get(pairId);
        const local = stats.get(pair?.localCandidateId);
        const remote = stats.get(pair?.remoteCandidateId);
        const id = (res.headers.get("location") ?? "").split("/").at(-1);
        (window as unknown as { pc: RTCPeerConnection }).pc = pc;
        return {
          answer,
          echo,
          inbound,
          outbound,
          id,
          local: { protocol: local?.protocol, tcpType: local?.tcpType },
          remote: { protocol: remote?.protocol, port: remote?.port, tcpType: remote?.tcpType },
        };
      });
      const tcpPort = stack.ingressTcpAddresses[0]!.port;
      expect(r.answer).toMatch(
        new RegExp(`a=candidate:\\S+ 1 tcp \\d+ 127\\.0\\.0\\.1 ${tcpPort} typ host tcptype passive`),
      );
      expect(r.answer).not.toMatch(/a=candidate:\S+ 1 udp /);
      expect(r.local.protocol).toBe("tcp");
      expect(r.remote).toMatchObject({ protocol: "tcp", port: tcpPort, tcpType: "passive" });
      expect(r.echo).toBe("hello over tcp");
      expect(r.inbound).toBeGreaterThanOrEqual(25);
      expect(r.outbound).toBeGreaterThanOrEqual(25);
      // The transceiver got the browser's audio (and echoed it: the inbound above).
      const listed = await txFetch(`${stack.transceivers[0]!.url}/v1/sessions`, {}, stack.token);
      const { sessions } = (await listed.json()) as { sessions: SessionInfo[] };
      expect(sessions.some((s) => s.echo.rtpIn >= 25)).toBe(true);
      const total = (await stack.ingressHosts[0]!.view()).total;
      expect(total.stats.tcpAccepted).toBeGreaterThanOrEqual(1);
      expect(total.stats.drops.amplification).toBe(0);
      expect(total.stats.tcpCloses.oversize).toBe(0); // the browser's frames fit the default bound
      await tab.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.close());
    });
  });
});
