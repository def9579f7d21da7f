/**
 * Built-in echo mode: every audio RTP packet the client sends is played back
 * to it, and every data-channel message is sent back on its channel. It lets
 * the whole media path be tested before (and without) an AI backend.
 */
import { MediaStreamTrack, type RTCPeerConnection } from "werift";

export interface EchoStats {
  rtpIn: number;
  rtpOut: number;
  messages: number;
}

export function attachEcho(pc: RTCPeerConnection, stats: EchoStats): void {
  for (const t of pc.getTransceivers()) {
    if (t.kind !== "audio") continue;
    t.setDirection("sendrecv");
    const out = new MediaStreamTrack({ kind: "audio" });
    void t.sender.replaceTrack(out);
    // werift fires onTrack during setRemoteDescription, before we get here: use the receiver's track.
    t.receiver.track.onReceiveRtp.subscribe((rtp) => {
      stats.rtpIn++;
      // The sender rewrites SSRC, payload type, sequence and timestamp offsets.
      out.writeRtp(rtp);
      stats.rtpOut++;
    });
  }
  pc.onDataChannel.subscribe((channel) => {
    channel.onMessage.subscribe((m) => {
      stats.messages++;
      if (channel.readyState === "open") channel.send(m);
    });
  });
}
