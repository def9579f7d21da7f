/**
 * The one backend interface of the bridge, and the socket plumbing every
 * adapter shares: counters, audio backpressure (frames to a backend that does
 * not keep up are dropped and counted, never buffered without bound; the
 * worker never blocks), pausing reads, and closing.
 */
import WebSocket from "ws";
import type { FailureCode } from "./lifecycle.ts";
import type { Json } from "./oai-events.ts";

export interface BackendHandlers {
  onEvent(event: Json): void;
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

export interface BackendConnection {
  readonly stats: BackendLinkStats;
  /** When audio first had to be dropped in the current stall (0: not stalled). */
  readonly stalledSince: number;
  /** Bytes waiting in this process to go out on the socket (the kernel's send buffer holds more). */
  readonly bufferedBytes: number;
  setHandlers(h: BackendHandlers): void;
  /** A client event, a whole-session session.update, or an output_audio_buffer.* playout event. */
  sendEvent(event: Json): void;
  /** One frame of the client's audio; false if dropped (the backend is behind). */
  sendAudio(pcm: Buffer, now: number): boolean;
  /** Stop / start reading from the backend (TCP pushes back). */
  pause(): void;
  resume(): void;
  close(code: number, reason: string): void;
}

/** What the adapters have in common; each says how audio goes on the wire and reads its own frames. */
export abstract class SocketLink implements BackendConnection {
  readonly ws: WebSocket;
  protected handlers: BackendHandlers | undefined;
  private readonly maxBuffered: number;
  /** Set once we closed the socket (its close event is then ours, not the backend's). */
  protected closedByUs = false;
  stalledSince = 0;
  readonly stats: BackendLinkStats = {
    eventsIn: 0,
    eventsOut: 0,
    audioFramesOut: 0,
    audioFramesDropped: 0,
    audioBytesIn: 0,
    invalidIn: 0,
  };

  protected constructor(ws: WebSocket, maxBuffered: number) {
    this.ws = ws;
    this.maxBuffered = maxBuffered;
    ws.on("error", () => {});
  }

  /** One frame of audio as the protocol sends it (binary for a Buffer, text for a string). */
  protected abstract audioFrame(pcm: Buffer): Buffer | string;
  abstract sendEvent(event: Json): void;

  setHandlers(h: BackendHandlers): void {
    this.handlers = h;
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  protected sendJson(event: Json): void {
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
    const frame = this.audioFrame(pcm);
    this.ws.send(frame, { binary: typeof frame !== "string" });
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
