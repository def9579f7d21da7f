/**
 * Our protocol's adapter (docs/backend-protocol.md): JSON text frames for
 * events, binary frames for PCM16 audio, `session.start` first. Frames that
 * are not events are ignored and counted; the backend closing with 1000 ends
 * the call.
 */
import type WebSocket from "ws";
import { isObject } from "./backends.ts";
import { SocketLink } from "./connection.ts";
import type { Json } from "./oai-events.ts";
import { openBackendSocket } from "./ws-open.ts";

export type { BackendHandlers, BackendLinkStats } from "./connection.ts";

export interface BackendConnectOptions {
  url: string;
  sessionId: string;
  model: string;
  callId?: string;
  token?: string;
  timeoutMs: number;
  /** The first message, sent as soon as the socket opens. */
  hello: Json;
  /** Audio is dropped while more than this is waiting to go out (default 256 KiB, ~5 s). */
  maxBufferedBytes?: number;
}

export class BackendLink extends SocketLink {
  private constructor(ws: WebSocket, maxBuffered: number) {
    super(ws, maxBuffered);
  }

  /** Opens the socket and sends the hello; rejects with a BackendError (503) if it cannot. */
  static async connect(o: BackendConnectOptions): Promise<BackendLink> {
    const url = new URL(o.url);
    url.searchParams.set("session_id", o.sessionId);
    url.searchParams.set("model", o.model);
    if (o.callId) url.searchParams.set("call_id", o.callId);
    const headers: Record<string, string> = { "x-voice-edge-session": o.sessionId };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const ws = await openBackendSocket(url, headers, o.timeoutMs, o.model);
    const link = new BackendLink(ws, o.maxBufferedBytes ?? 256 * 1024);
    link.wire();
    link.sendEvent(o.hello);
    return link;
  }

  private wire(): void {
    this.ws.on("message", (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        if (buf.length % 2 !== 0) {
          this.stats.invalidIn++;
          this.handlers?.onInvalid("binary frame with an odd number of bytes (PCM16 expected)");
          return;
        }
        this.stats.audioBytesIn += buf.length;
        this.handlers?.onAudio(buf);
        return;
      }
      let event: unknown;
      try {
        event = JSON.parse(buf.toString("utf8"));
      } catch {
        event = undefined;
      }
      if (!isObject(event) || typeof event.type !== "string") {
        this.stats.invalidIn++;
        this.handlers?.onInvalid("text frame that is not a JSON event object");
        return;
      }
      this.stats.eventsIn++;
      this.handlers?.onEvent(event);
    });
    this.ws.on("close", (code, reason) => {
      if (!this.closedByUs) this.handlers?.onClose(code, reason.toString("utf8"));
    });
  }

  sendEvent(event: Json): void {
    this.sendJson(event);
  }

  protected audioFrame(pcm: Buffer): Buffer {
    return pcm;
  }
}
