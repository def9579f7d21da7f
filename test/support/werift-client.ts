/**
 * A standard WebRTC client built on werift, for tests and benchmarks: it
 * binds its own loopback socket like any app would and knows nothing of
 * relays or hints. It makes no STUN lookups (no ICE servers, loopback only).
 */

import { MediaStreamTrack, type RTCDataChannel, RTCPeerConnection, RtpHeader, RtpPacket } from "werift";
import { useKeyObjectsFor } from "../../media/transceiver/werift-seam.ts";

export interface TestClient {
  pc: RTCPeerConnection;
  channel: RTCDataChannel;
  audioOut: MediaStreamTrack;
  /** Audio RTP packets received from the server. */
  received: RtpPacket[];
  offer(): Promise<string>;
  answer(sdp: string): Promise<void>;
  connected(): Promise<void>;
  channelOpen(): Promise<void>;
  sendAudio(count: number, intervalMs?: number): Promise<void>;
  /** ICE restart: re-offer with new credentials, `post` it, apply the answer. */
  restartIce(post: (offerSdp: string) => Promise<string>): Promise<void>;
  close(): Promise<void>;
}

export interface TestClientOptions {
  /** Give werift's SRTP ciphers KeyObjects (as the transceiver does): for load generators. */
  fastSrtp?: boolean;
}

export function createTestClient(options: TestClientOptions = {}): TestClient {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: "127.0.0.1" },
    iceAdditionalHostAddresses: ["127.0.0.1"],
    bundlePolicy: "max-bundle",
  });
  // werift would otherwise look up its default public STUN host.
  for (const t of pc.iceTransports)
    (t.connection as unknown as { stunServer: unknown }).stunServer = undefined;
  const audioOut = new MediaStreamTrack({ kind: "audio" });
  const transceiver = pc.addTransceiver(audioOut, { direction: "sendrecv" });
  const received: RtpPacket[] = [];
  transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => received.push(rtp)));
  const channel = pc.createDataChannel("oai-events");
  let seq = 0;
  let ts = 0;
  return {
    pc,
    channel,
    audioOut,
    received,
    async offer() {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      for (const t of pc.iceTransports)
        (t.connection as unknown as { stunServer: unknown }).stunServer = undefined;
      return pc.localDescription!.sdp;
    },
    async answer(sdp) {
      await pc.setRemoteDescription({ type: "answer", sdp });
      if (options.fastSrtp) useKeyObjectsFor(pc);
    },
    connected() {
      if (pc.connectionState === "connected") return Promise.resolve();
      return new Promise((resolve, reject) => {
        const sub = pc.connectionStateChange.subscribe((s) => {
          if (s === "connected") {
            sub.unSubscribe();
            resolve();
          } else if (s === "failed" || s === "closed") {
            sub.unSubscribe();
            reject(new Error(`client connection ${s}`));
          }
        });
      });
    },
    channelOpen() {
      if (channel.readyState === "open") return Promise.resolve();
      return new Promise((resolve) => channel.stateChanged.subscribe((s) => s === "open" && resolve()));
    },
    async sendAudio(count, intervalMs = 20) {
      for (let i = 0; i < count; i++) {
        const header = new RtpHeader({
          payloadType: 111,
          sequenceNumber: seq++ & 0xffff,
          timestamp: (ts + 960 * i) >>> 0,
          marker: i === 0,
        });
        audioOut.writeRtp(new RtpPacket(header, Buffer.alloc(60, i & 0xff)));
        if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      }
      ts += 960 * count;
    },
    async restartIce(post) {
      pc.restartIce();
      const offer = await pc.createOffer();
      for (const t of pc.iceTransports)
        (t.connection as unknown as { stunServer: unknown }).stunServer = undefined;
      await pc.setLocalDescription(offer);
      await pc.setRemoteDescription({ type: "answer", sdp: await post(pc.localDescription!.sdp) });
      // werift skips ICE in connect() while DTLS is up, so a restarted agent sends no checks: start it.
      for (const t of pc.iceTransports) {
        if (!(t.connection as unknown as { nominated?: unknown }).nominated) void t.start().catch(() => {});
      }
    },
    async close() {
      await pc.close();
    },
  };
}
