/**
 * Built-in echo mode: every audio RTP packet the client sends is played back
 * to it, and every data-channel message is sent back on its channel. It lets
 * the whole media path be tested before (and without) an AI backend.
 */
import type { PeerMedia } from "./peer.ts";

export interface EchoStats {
  rtpIn: number;
  rtpOut: number;
  messages: number;
}

export function attachEcho(media: PeerMedia, stats: EchoStats): void {
  for (const audio of media.audio()) {
    audio.onRtp((rtp) => {
      stats.rtpIn++;
      audio.echo(rtp);
      stats.rtpOut++;
    });
  }
  media.onChannel((channel) => {
    channel.onMessage((m) => {
      stats.messages++;
      if (channel.readyState === "open") channel.send(m);
    });
  });
}
