/**
 * One direction of one TCP connection through the impairer (sans-IO): bytes
 * in as the socket delivers them, whole RFC 4571 frames out, each put through
 * the direction's shared `Link`. TCP cannot lose bytes, so a lost frame is
 * dropped whole (the receiver sees a missing packet, as over UDP) and the
 * framing of what leaves is always intact.
 */
import { encodeFrame, FRAME_HEADER, FrameDecoder, type FrameError } from "../wire/tcp-frame.ts";
import type { Link } from "./link.ts";
import type { Profile } from "./profile.ts";

/** What a frame leaving at `at` (ms) is handed to: the frame, length prefix included, owned by the callee. */
export type OnDeparture = (at: number, frame: Buffer) => void;

/** TCP never reorders: a profile's reordering does not apply to a byte stream (everything else does). */
export function tcpProfile(p: Profile): Profile {
  return p.reorder === 0 ? p : { ...p, reorder: 0 };
}

export class FramedLink {
  private readonly decoder: FrameDecoder;
  private readonly link: Link;

  constructor(link: Link, maxFrame = 65535) {
    this.link = link;
    this.decoder = new FrameDecoder(maxFrame);
  }

  /** Bytes of a split frame held. */
  get pending(): number {
    return this.decoder.pending;
  }

  /** Decodes `chunk` arriving at `now`; each surviving copy of each frame goes to `out`. An error: close the connection. */
  push(now: number, chunk: Buffer, out: OnDeparture): FrameError | undefined {
    return this.decoder.push(chunk, now, (buf, off, len) => {
      const copies = this.link.pass(now, len + FRAME_HEADER);
      if (copies === 0) return true;
      // The decoder's memory is only valid during this call; what waits needs its own.
      const frame = Buffer.allocUnsafe(len + FRAME_HEADER);
      encodeFrame(frame, buf, off, len);
      for (let i = 0; i < copies; i++) out(this.link.departures[i]!, frame);
      return true;
    });
  }
}
