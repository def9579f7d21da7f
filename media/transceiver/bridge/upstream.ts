/**
 * The choice of adapter for a backend (connection.ts has the one interface):
 * the URL's scheme names the protocol (`ws(s)://`: ours,
 * docs/backend-protocol.md; `realtime+ws(s)://`: an OpenAI-Realtime-compatible
 * server; `live+ws(s)://`: a GPT-Live server, docs/bridge.md). All speak to the bridge in our vocabulary: Realtime
 * events as JSON objects, audio as PCM16 24 kHz buffers.
 */
import { BackendLink } from "./backend-client.ts";
import { type BridgeConfig, backendProtocol } from "./backends.ts";
import type { BackendConnection } from "./connection.ts";
import { LiveLink } from "./live-link.ts";
import type { Json } from "./oai-events.ts";
import { FRAME_MS } from "./opus.ts";
import { RealtimeLink } from "./realtime-link.ts";

/** The backends' audio: PCM16 little-endian, mono, 24 kHz. */
export const BACKEND_RATE = 24000;

export interface DialOptions {
  url: string;
  sessionId: string;
  model: string;
  callId?: string;
  config: BridgeConfig;
  /** The whole current session object. */
  session: Json;
  /** A reconnect after the previous link dropped. */
  resumed: boolean;
}

/** Opens the session's backend link; rejects with a BackendError (503) if it cannot. */
export function dialBackend(o: DialOptions): Promise<BackendConnection> {
  const protocol = backendProtocol(o.url);
  if (protocol !== "voice-edge") {
    const upstream = {
      url: o.url,
      model: o.model,
      session: o.session,
      timeoutMs: o.config.connectTimeoutMs,
      env: o.config.env ?? process.env,
    };
    return protocol === "live" ? LiveLink.connect(upstream) : RealtimeLink.connect(upstream);
  }
  return BackendLink.connect({
    url: o.url,
    sessionId: o.sessionId,
    model: o.model,
    callId: o.callId,
    token: o.config.token,
    timeoutMs: o.config.connectTimeoutMs,
    hello: {
      type: "session.start",
      session_id: o.sessionId,
      call_id: o.callId ?? null,
      model: o.model,
      session: o.session,
      audio: { format: "pcm16", sample_rate: BACKEND_RATE, channels: 1, frame_ms: FRAME_MS },
      resumed: o.resumed,
    },
  });
}
