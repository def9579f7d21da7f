/**
 * Per-session call quality from RTCP, as the peer's statistics report it:
 * what the client's audio looks like on arrival (jitter, loss) and what the
 * client reports about ours (round-trip time, fraction lost).
 */
import type { PeerStat } from "./peer.ts";

export interface Quality {
  /** Audio packets received from the client, and lost on the way. */
  packetsReceived: number;
  packetsLost: number;
  /** Inbound interarrival jitter, seconds. */
  jitter: number | undefined;
  /** From the client's receiver reports on our audio: RTT (seconds) and fraction lost (0..1). */
  roundTripTime: number | undefined;
  fractionLost: number | undefined;
}

export function readQuality(stats: Iterable<PeerStat>): Quality {
  const q: Quality = {
    packetsReceived: 0,
    packetsLost: 0,
    jitter: undefined,
    roundTripTime: undefined,
    fractionLost: undefined,
  };
  for (const s of stats) {
    if (s.kind !== undefined && s.kind !== "audio") continue;
    if (s.type === "inbound-rtp") {
      q.packetsReceived += s.packetsReceived ?? 0;
      q.packetsLost += Math.max(0, s.packetsLost ?? 0);
      if (s.jitter !== undefined) q.jitter = Math.max(q.jitter ?? 0, s.jitter);
    } else if (s.type === "remote-inbound-rtp") {
      if (s.roundTripTime !== undefined) q.roundTripTime = s.roundTripTime;
      if (s.fractionLost !== undefined) q.fractionLost = s.fractionLost;
    }
  }
  return q;
}
