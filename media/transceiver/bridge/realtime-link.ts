/**
 * The adapter for an OpenAI-Realtime-compatible WebSocket server
 * (`realtime+ws://` / `realtime+wss://`; docs/bridge.md): where to dial, the
 * key, the socket. The protocol itself is realtime-events.ts. Unlike our own
 * protocol, anything the upstream does wrong (a close, a malformed frame,
 * bad base64) is a fault of the session: the link reports it and goes.
 */
import type WebSocket from "ws";
import { SocketLink } from "./connection.ts";
import { CLOSE } from "./lifecycle.ts";
import type { Json } from "./oai-events.ts";
import { RealtimeEvents } from "./realtime-events.ts";
import { openBackendSocket } from "./ws-open.ts";

/** The environment variable that holds the upstream's key unless the URL's `key_env` names another. */
export const DEFAULT_KEY_ENV = "OPENAI_API_KEY";

export interface RealtimeConnectOptions {
  /** realtime+ws://host:port/path?model=...[&key_env=VAR][&key_header=api-key] */
  url: string;
  /** The session's model (sent as `model` if the URL names none and it is not "default"). */
  model: string;
  session: Json;
  timeoutMs: number;
  env: Record<string, string | undefined>;
  /** Audio is dropped while more than this is waiting to go out (default 512 KiB, ~8 s of base64). */
  maxBufferedBytes?: number;
}

/**
 * The upstream's WebSocket URL and headers: the scheme without `realtime+`, our own
 * parameters taken out, the key from the environment (never from the URL or the client).
 */
export function upstreamTarget(
  spec: string,
  model: string,
  env: Record<string, string | undefined>,
): { url: URL; headers: Record<string, string> } {
  const url = new URL(spec.replace(/^realtime\+/, ""));
  const keyEnv = url.searchParams.get("key_env") ?? DEFAULT_KEY_ENV;
  const keyHeader = url.searchParams.get("key_header");
  url.searchParams.delete("key_env");
  url.searchParams.delete("key_header");
  if (!url.searchParams.has("model") && model !== "default") url.searchParams.set("model", model);
  const headers: Record<string, string> = {};
  const key = env[keyEnv];
  if (key) {
    if (keyHeader) headers[keyHeader.toLowerCase()] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  return { url, headers };
}

export class RealtimeLink extends SocketLink {
  readonly protocol = new RealtimeEvents();

  private constructor(ws: WebSocket, maxBuffered: number) {
    super(ws, maxBuffered);
  }

  /** Opens the socket and configures the session upstream; rejects with a BackendError (503). */
  static async connect(o: RealtimeConnectOptions): Promise<RealtimeLink> {
    const { url, headers } = upstreamTarget(o.url, o.model, o.env);
    const ws = await openBackendSocket(url, headers, o.timeoutMs, o.model);
    const link = new RealtimeLink(ws, o.maxBufferedBytes ?? 512 * 1024);
    link.wire();
    link.sendJson(link.protocol.sessionUpdate(o.session));
    return link;
  }

  private wire(): void {
    this.ws.on("message", (data, isBinary) => {
      if (this.closedByUs) return;
      if (isBinary) return this.fault("the upstream sent a binary frame (the Realtime protocol has none)");
      const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
      for (const r of this.protocol.fromUpstream(text)) {
        if (r.kind === "fault") return this.fault(r.message);
        if (r.kind === "audio") {
          this.stats.audioBytesIn += r.pcm.length;
          this.handlers?.onAudio(r.pcm);
        } else {
          this.stats.eventsIn++;
          this.handlers?.onEvent(r.event);
        }
      }
    });
    this.ws.on("close", (code, reason) => {
      // A Realtime server that closes has not "ended the call": the session lost its model.
      if (!this.closedByUs) this.handlers?.onClose(code, reason.toString("utf8"), "backend_disconnected");
    });
  }

  private fault(message: string): void {
    this.stats.invalidIn++;
    this.close(CLOSE.protocolError, "protocol error");
    this.handlers?.onClose(CLOSE.protocolError, message, "backend_protocol_error");
  }

  sendEvent(event: Json): void {
    const up = this.protocol.toUpstream(event);
    if (up) this.sendJson(up);
  }

  protected audioFrame(pcm: Buffer): string {
    return this.protocol.append(pcm);
  }
}
