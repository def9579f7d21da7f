/**
 * The adapter for an OpenAI-Realtime-compatible WebSocket server
 * (`realtime+ws://` / `realtime+wss://`; docs/bridge.md): the URL names the
 * model, and the first message is the session's `session.update`. The
 * protocol itself is realtime-events.ts, the socket upstream-link.ts.
 */
import { RealtimeEvents } from "./realtime-events.ts";
import { type UpstreamConnectOptions, UpstreamLink, upstreamTarget } from "./upstream-link.ts";
import { openBackendSocket } from "./ws-open.ts";

export class RealtimeLink extends UpstreamLink<RealtimeEvents> {
  /** Opens the socket and configures the session upstream; rejects with a BackendError (503). */
  static async connect(o: UpstreamConnectOptions): Promise<RealtimeLink> {
    const { url, headers } = upstreamTarget(o.url, o.model, o.env);
    const ws = await openBackendSocket(url, headers, o.timeoutMs, o.model);
    const link = new RealtimeLink(ws, o.maxBufferedBytes ?? 512 * 1024, new RealtimeEvents());
    link.wire();
    link.sendJson(link.protocol.sessionUpdate(o.session));
    return link;
  }
}
