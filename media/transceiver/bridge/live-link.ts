/**
 * The adapter for a GPT-Live WebSocket server (`live+ws://` / `live+wss://`;
 * docs/bridge.md): `session.start` first, the link is up once `session.started`
 * answers it (anything else: the session is not created, 503), and our goodbye
 * is `session.close` before the socket closes. The protocol itself is
 * live-events.ts, the socket upstream-link.ts.
 */
import type WebSocket from "ws";
import { CLOSE } from "./lifecycle.ts";
import { LiveEvents } from "./live-events.ts";
import { type UpstreamConnectOptions, UpstreamLink, upstreamTarget } from "./upstream-link.ts";
import { openBackendSocket, unavailable } from "./ws-open.ts";

export class LiveLink extends UpstreamLink<LiveEvents> {
  /** Opens the socket and starts the session upstream; rejects with a BackendError (503). */
  static async connect(o: UpstreamConnectOptions): Promise<LiveLink> {
    const t0 = performance.now();
    const { url, headers } = upstreamTarget(o.url, o.model, o.env, false);
    const ws = await openBackendSocket(url, headers, o.timeoutMs, o.model);
    const link = new LiveLink(ws, o.maxBufferedBytes ?? 512 * 1024, new LiveEvents());
    link.sendJson(link.protocol.sessionStart(o.session, o.model));
    const left = Math.max(1, o.timeoutMs - (performance.now() - t0));
    // Wired in the same tick as session.started, so nothing the upstream sends next is missed.
    await started(ws, link.protocol, left, o.model, () => link.wire());
    link.stats.eventsIn++;
    return link;
  }

  override close(code: number, reason: string): void {
    const bye = this.closedByUs || code === CLOSE.protocolError ? undefined : this.protocol.closeEvent();
    if (bye) this.sendJson(bye);
    super.close(code, reason);
  }
}

/** Resolves on the upstream's session.started; rejects with a BackendError (503) on anything else. */
function started(
  ws: WebSocket,
  protocol: LiveEvents,
  timeoutMs: number,
  model: string,
  onStarted: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (why?: string) => {
      clearTimeout(timer);
      ws.off("message", onMessage);
      ws.off("close", onClose);
      ws.off("error", onError);
      if (why === undefined) {
        onStarted();
        return resolve();
      }
      ws.terminate();
      reject(unavailable(model, why));
    };
    const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
      if (isBinary) return done("it answered session.start with a binary frame");
      const r = protocol.handshake(Array.isArray(data) ? Buffer.concat(data).toString() : data.toString());
      done("refused" in r ? r.refused : undefined);
    };
    const onClose = (code: number) => done(`it closed the connection (${code}) before session.started`);
    const onError = (err: Error) => done(err.message || String(err));
    const timer = setTimeout(() => done(`no session.started within ${Math.round(timeoutMs)} ms`), timeoutMs);
    ws.on("message", onMessage);
    ws.once("close", onClose);
    ws.once("error", onError);
  });
}
