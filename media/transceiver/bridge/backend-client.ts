/**
 * One session's WebSocket to its backend (docs/backend-protocol.md): JSON
 * text frames for events, binary frames for PCM16 audio. Never blocks the
 * worker: sends are queued by the socket, and audio to a backend that does
 * not keep up is dropped (counted) rather than buffered without bound.
 */
import WebSocket from "ws";
import { isObject } from "./backends.ts";
import type { FailureCode } from "./lifecycle.ts";
import type { BackendConnection } from "./upstream.ts";
import { openBackendSocket } from "./ws-open.ts";

export interface BackendConnectOptions {
  url: string;
  sessionId: string;
  model: string;
  callId?: string;
  token?: string;
  timeoutMs: number;
  /** The first message, sent as soon as the socket opens. */
  hello: Record<string, unknown>;
  /** Audio is dropped while more than this is waiting to go out (default 256 KiB, ~5 s). */
  maxBufferedBytes?: number;
}

export interface BackendHandlers {
  onEvent(event: Record<string, unknown>): void;
  onAudio(pcm: Buffer): void;
  /** The backend sent something that is not a JSON object (counted, otherwise ignored). */
  onInvalid(reason: string): void;
  /**
   * The link is gone (not called after close() from our side): the backend closed it
   * (`code`), the connection dropped (1006), or the link gave up on a fault (`failure`).
   */
  onClose(code: number, reason: string, failure?: FailureCode): void;
}

export interface BackendLinkStats {
  eventsIn: number;
  eventsOut: number;
  audioFramesOut: number;
  audioFramesDropped: number;
  audioBytesIn: number;
  invalidIn: number;
}

/** Our protocol's adapter (docs/backend-protocol.md). */
export class BackendLink implements BackendConnection {
  readonly ws: WebSocket;
  private handlers: BackendHandlers | undefined;
  private readonly maxBuffered: number;
  private closedByUs = false;
  /** When audio first had to be dropped in the current stall (0: not stalled). */
  stalledSince = 0;
  readonly stats: BackendLinkStats = {
    eventsIn: 0,
    eventsOut: 0,
    audioFramesOut: 0,
    audioFramesDropped: 0,
    audioBytesIn: 0,
    invalidIn: 0,
  };

  private constructor(ws: WebSocket, maxBuffered: number) {
    this.ws = ws;
    this.maxBuffered = maxBuffered;
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

  setHandlers(h: BackendHandlers): void {
    this.handlers = h;
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
    this.ws.on("error", () => {});
    this.ws.on("close", (code, reason) => {
      if (!this.closedByUs) this.handlers?.onClose(code, reason.toString("utf8"));
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendEvent(event: Record<string, unknown>): void {
    if (!this.open) return;
    this.stats.eventsOut++;
    this.ws.send(JSON.stringify(event));
  }

  /** Sends one audio frame unless the backend is behind; returns false if dropped. */
  sendAudio(pcm: Buffer, now: number): boolean {
    if (!this.open) return false;
    if (this.ws.bufferedAmount > this.maxBuffered) {
      this.stats.audioFramesDropped++;
      if (this.stalledSince === 0) this.stalledSince = now;
      return false;
    }
    this.stalledSince = 0;
    this.stats.audioFramesOut++;
    this.ws.send(pcm, { binary: true });
    return true;
  }

  /** Stops reading from the backend (TCP pushes back), e.g. while lots of output audio is queued. */
  pause(): void {
    if (!this.ws.isPaused) this.ws.pause();
  }
  resume(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  close(code: number, reason: string): void {
    this.closedByUs = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
      // A backend that never answers the close handshake: drop the TCP connection.
      setTimeout(() => this.ws.terminate(), 2000).unref();
    }
  }
}
