/**
 * The socket half shared by the adapters for OpenAI's JSON-over-WebSocket
 * upstreams (Realtime: realtime-link.ts, GPT-Live: live-link.ts; docs/bridge.md):
 * where to dial, the key, and reading frames through the protocol half
 * (upstream-frames.ts). Unlike our own protocol, anything the upstream does
 * wrong (a close, a malformed frame, bad base64) is a fault of the session:
 * the link reports it and goes.
 */
import type WebSocket from "ws";
import { type BackendHandlers, SocketLink } from "./connection.ts";
import { CLOSE } from "./lifecycle.ts";
import type { Json } from "./oai-events.ts";
import type { Inbound, UpstreamProtocol } from "./upstream-frames.ts";

/** The environment variable that holds the upstream's key unless the URL's `key_env` names another. */
export const DEFAULT_KEY_ENV = "OPENAI_API_KEY";

export interface UpstreamConnectOptions {
  /** realtime+ws://host:port/path?model=...[&key_env=VAR][&key_header=api-key], or live+ws://... */
  url: string;
  /** The session's model. */
  model: string;
  session: Json;
  timeoutMs: number;
  env: Record<string, string | undefined>;
  /** Audio is dropped while more than this is waiting to go out (default 512 KiB, ~8 s of base64). */
  maxBufferedBytes?: number;
}

/**
 * The upstream's WebSocket URL and headers: the scheme without its `protocol+` prefix, our own
 * parameters taken out, the key from the environment (never from the URL or the client).
 * `modelInQuery`: the session's model goes in the URL's `model` if the URL names none and it
 * is not "default" (Realtime; Live takes the model in session.start only).
 */
export function upstreamTarget(
  spec: string,
  model: string,
  env: Record<string, string | undefined>,
  modelInQuery = true,
): { url: URL; headers: Record<string, string> } {
  const url = new URL(spec.replace(/^[a-z]+\+/, ""));
  const keyEnv = url.searchParams.get("key_env") ?? DEFAULT_KEY_ENV;
  const keyHeader = url.searchParams.get("key_header");
  url.searchParams.delete("key_env");
  url.searchParams.delete("key_header");
  if (modelInQuery && !url.searchParams.has("model") && model !== "default")
    url.searchParams.set("model", model);
  const headers: Record<string, string> = {};
  const key = env[keyEnv];
  if (key) {
    if (keyHeader) headers[keyHeader.toLowerCase()] = key;
    else headers.authorization = `Bearer ${key}`;
  }
  return { url, headers };
}

/** Frames kept for the bridge until it sets its handlers (what the upstream sends as the link opens). */
const EARLY_MAX = 64;

export class UpstreamLink<P extends UpstreamProtocol = UpstreamProtocol> extends SocketLink {
  readonly protocol: P;
  private early: Inbound[] | undefined = [];

  protected constructor(ws: WebSocket, maxBuffered: number, protocol: P) {
    super(ws, maxBuffered);
    this.protocol = protocol;
  }

  protected wire(): void {
    this.ws.on("message", (data, isBinary) => {
      if (this.closedByUs) return;
      if (isBinary) return this.fault("the upstream sent a binary frame (its protocol has none)");
      const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
      for (const r of this.protocol.fromUpstream(text)) {
        if (this.early) {
          if (this.early.length < EARLY_MAX) this.early.push(r);
        } else if (!this.take(r)) return;
      }
    });
    this.ws.on("close", (code, reason) => {
      // An upstream that closes has not "ended the call": the session lost its model.
      if (!this.closedByUs) this.handlers?.onClose(code, reason.toString("utf8"), "backend_disconnected");
    });
  }

  /**
   * The early frames go to the bridge on the next turn of the event loop: by then it has made
   * this its current link (it sets the handlers a few promise steps before), so an early fault
   * ends the session instead of being taken for an old link's.
   */
  override setHandlers(h: BackendHandlers): void {
    super.setHandlers(h);
    setImmediate(() => {
      const early = this.early ?? [];
      this.early = undefined;
      for (const r of early) if (!this.take(r)) return;
    });
  }

  /** One inbound item to the bridge; false once the link is gone. */
  private take(r: Inbound): boolean {
    if (r.kind === "fault") this.fault(r.message);
    else if (r.kind === "end") this.ended(r.reason);
    else if (r.kind === "audio") {
      this.stats.audioBytesIn += r.pcm.length;
      this.handlers?.onAudio(r.pcm);
      return true;
    } else {
      this.stats.eventsIn++;
      this.handlers?.onEvent(r.event);
      return true;
    }
    return false;
  }

  private fault(message: string): void {
    this.stats.invalidIn++;
    this.close(CLOSE.protocolError, "protocol error");
    this.handlers?.onClose(CLOSE.protocolError, message, "backend_protocol_error");
  }

  /** The upstream ended the session in its protocol: a clean end of the call. */
  private ended(reason: string): void {
    this.close(CLOSE.normal, reason);
    this.handlers?.onClose(CLOSE.normal, reason);
  }

  sendEvent(event: Json): void {
    const up = this.protocol.toUpstream(event);
    if (up) this.sendJson(up);
  }

  protected audioFrame(pcm: Buffer): string {
    return this.protocol.append(pcm);
  }
}
