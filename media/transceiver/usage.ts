/**
 * What one session used, reported once when it ends: the end-of-session log
 * line, the host's Prometheus histograms and counters (metrics.ts), and for
 * GPT-Live the `usage` of session.closed. Sans-IO.
 */
import type { BridgeStats } from "./bridge/bridge.ts";
import { FRAME_MS } from "./bridge/opus.ts";
import type { CloseReason } from "./close-reason.ts";

export interface SessionUsage {
  reason: CloseReason;
  /** From creation to the end. */
  durationSeconds: number;
  /** From ICE+DTLS connected to the end (0 if it never connected). */
  connectedSeconds: number;
  /** The client's audio passed to the backend (20 ms frames, lost packets filled): bridge mode only. */
  inputAudioSeconds: number;
  /** Audio played out to the client: bridge mode only. */
  outputAudioSeconds: number;
}

export function sessionUsage(
  reason: CloseReason,
  times: { createdAt: number; connectedAt: number | undefined; endedAt: number },
  bridge: BridgeStats | undefined,
): SessionUsage {
  const frames = (n: number) => (n * FRAME_MS) / 1000;
  return {
    reason,
    durationSeconds: Math.max(0, times.endedAt - times.createdAt) / 1000,
    connectedSeconds:
      times.connectedAt === undefined ? 0 : Math.max(0, times.endedAt - times.connectedAt) / 1000,
    inputAudioSeconds: bridge ? frames(bridge.link.audioFramesOut + bridge.link.audioFramesDropped) : 0,
    outputAudioSeconds: bridge ? frames(bridge.output.framesSent) : 0,
  };
}
