/**
 * A standard WebRTC client built on werift, for tests and benchmarks: it
 * binds its own loopback socket like any app would and knows nothing of
 * relays or hints. It makes no STUN lookups (no ICE servers, loopback only).
 */

import { MediaStreamTrack, type RTCDataChannel, RTCPeerConnection, RtpHeader, RtpPacket } from "werift";
import { DTLS_ALERT, type DtlsRecord, serializeDtlsRecord } from "../../media/transceiver/close-signals.ts";
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
  /** Ways to leave that werift's close() does not take (it sends only an SCTP ABORT). */
  sendDtlsAlert(level: 1 | 2, description: number): Promise<void>;
  sendSctpShutdown(): Promise<void>;
  sendRtcpBye(): Promise<void>;
  /** ICE restart: re-offer with new credentials, `post` it, apply the answer. */
  restartIce(post: (offerSdp: string) => Promise<string>): Promise<void>;
  close(): Promise<void>;
}

/** werift's DtlsSocket and SCTP association, as far as the goodbyes above need them. */
interface DtlsSocket {
  dtls: { recordSequenceNumber: number; epoch: number; version: { major: number; minor: number } };
  cipher: { encryptPacket(p: DtlsRecord): DtlsRecord };
  transport: { send(data: Buffer): Promise<void> };
}
interface Sctp {
  lastReceivedTsn?: number;
  sendChunk(chunk: unknown): Promise<void>;
}

export interface TestClientOptions {
  /** Give werift's SRTP ciphers KeyObjects (as the transceiver does): for load generators. */
  fastSrtp?: boolean;
  /** ICE-TCP too: active TCP candidates (it dials the answer's passive ones; it listens on none). */
  tcp?: boolean;
}

export function createTestClient(options: TestClientOptions = {}): TestClient {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: "127.0.0.1" },
    iceAdditionalHostAddresses: ["127.0.0.1"],
    bundlePolicy: "max-bundle",
    ...(options.tcp ? { iceUseTcp: true, iceTcpPassive: false } : {}),
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
    async sendDtlsAlert(level, description) {
      const socket = (pc.dtlsTransports[0] as unknown as { dtls: DtlsSocket }).dtls;
      const record = socket.cipher.encryptPacket({
        recordLayerHeader: {
          contentType: DTLS_ALERT,
          protocolVersion: socket.dtls.version,
          epoch: socket.dtls.epoch,
          sequenceNumber: ++socket.dtls.recordSequenceNumber,
          contentLen: 2,
        },
        fragment: Buffer.from([level, description]),
      });
      await socket.transport.send(serializeDtlsRecord(record));
    },
    async sendSctpShutdown() {
      const sctp = (pc.sctpTransport as unknown as { sctp: Sctp }).sctp;
      // RFC 4960 §3.3.8: type 7, length 8, the cumulative TSN ack.
      const bytes = Buffer.from([7, 0, 0, 8, 0, 0, 0, 0]);
      bytes.writeUInt32BE(sctp.lastReceivedTsn ?? 0, 4);
      await sctp.sendChunk({ bytes });
    },
    async sendRtcpBye() {
      // RFC 3550 §6.6: V=2, one SSRC (our audio's), PT 203, length 1 (32-bit words minus one).
      const bye = Buffer.from([0x81, 203, 0, 1, 0, 0, 0, 0]);
      bye.writeUInt32BE(transceiver.sender.ssrc, 4);
      await pc.dtlsTransports[0]!.sendRtcp([{ serialize: () => bye } as never]);
    },
    async close() {
      await pc.close();
    },
  };
}
