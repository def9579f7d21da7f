/**
 * The adapter for an OpenAI-Realtime-compatible WebSocket server
 * (`realtime+ws://` / `realtime+wss://`; docs/bridge.md): the socket, the key,
 * backpressure. The protocol itself is realtime-events.ts. Unlike our own
 * protocol, anything the upstream does wrong (a close, a malformed frame,
 * bad base64) is a fault of the session: the link reports it and goes.
 */
import WebSocket from "ws";
import type { BackendHandlers, BackendLinkStats } from "./backend-client.ts";
import { CLOSE } from "./lifecycle.ts";
import type { Json } from "./oai-events.ts";
import { RealtimeEvents } from "./realtime-events.ts";
import type { BackendConnection } from "./upstream.ts";
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

export class RealtimeLink implements BackendConnection {
  readonly ws: WebSocket;
  readonly protocol = new RealtimeEvents();
  private handlers: BackendHandlers | undefined;
  private readonly maxBuffered: number;
  private gone = false;
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

  /** Opens the socket and configures the session upstream; rejects with a BackendError (503). */
  static async connect(o: RealtimeConnectOptions): Promise<RealtimeLink> {
    const { url, headers } = upstreamTarget(o.url, o.model, o.env);
    const ws = await openBackendSocket(url, headers, o.timeoutMs, o.model);
    const link = new RealtimeLink(ws, o.maxBufferedBytes ?? 512 * 1024);
    link.wire();
    link.send(link.protocol.sessionUpdate(o.session));
    return link;
  }

  setHandlers(h: BackendHandlers): void {
    this.handlers = h;
  }

  private wire(): void {
    this.ws.on("message", (data, isBinary) => {
      if (this.gone) return;
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
    this.ws.on("error", () => {});
    this.ws.on("close", (code, reason) => {
      if (this.gone) return;
      this.gone = true;
      // A Realtime server that closes has not "ended the call": the session lost its model.
      this.handlers?.onClose(code, reason.toString("utf8"), "backend_disconnected");
    });
  }

  private fault(message: string): void {
    this.stats.invalidIn++;
    this.gone = true;
    this.close(CLOSE.protocolError, "protocol error");
    this.handlers?.onClose(CLOSE.protocolError, message, "backend_protocol_error");
  }

  private send(event: Json): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.stats.eventsOut++;
    this.ws.send(JSON.stringify(event));
  }

  sendEvent(event: Json): void {
    const up = this.protocol.toUpstream(event);
    if (up) this.send(up);
  }

  sendAudio(pcm: Buffer, now: number): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.ws.bufferedAmount > this.maxBuffered) {
      this.stats.audioFramesDropped++;
      if (this.stalledSince === 0) this.stalledSince = now;
      return false;
    }
    this.stalledSince = 0;
    this.stats.audioFramesOut++;
    this.ws.send(this.protocol.append(pcm));
    return true;
  }

  pause(): void {
    if (!this.ws.isPaused) this.ws.pause();
  }
  resume(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  close(code: number, reason: string): void {
    this.gone = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
      // An upstream that never answers the close handshake: drop the TCP connection.
      setTimeout(() => this.ws.terminate(), 2000).unref();
    }
  }
}
