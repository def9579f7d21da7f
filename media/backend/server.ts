/**
 * The demo backend's WebSocket server (docs/backend-protocol.md): one
 * connection per session from a transceiver, a ParrotAgent behind each.
 */
import { createServer, type Server } from "node:http";
import WebSocket, { WebSocketServer } from "ws";
import type { Logger } from "../runtime/log.ts";
import { type AgentHooks, ParrotAgent } from "./agent.ts";
import { type BackendMetrics, backendMetrics } from "./metrics.ts";
import { selectVad, type VadChoice, type VadEngine } from "./vad/engine.ts";
import type { VadConfig, VadKind } from "./vad/vad.ts";

export const AGENT_PATH = "/v1/agent";

export interface BackendServerOptions {
  host: string;
  port: number;
  vad?: Partial<VadConfig>;
  /** Which VAD sessions get (default energy; `voice-edge backend` defaults to auto). */
  vadEngine?: VadChoice;
  log?: Logger;
  /** Per-session hooks (latency accounting in benchmarks). */
  hooks?: (sessionId: string) => AgentHooks;
  /** Audio frames' arrival (epoch ms, sub-ms) by session, for benchmarks. */
  onAudioFrame?: (sessionId: string, frameIndex: number, at: number) => void;
}

export interface RunningBackend {
  url: string;
  port: number;
  server: Server;
  wss: WebSocketServer;
  /** The VAD the sessions get. */
  vad: VadKind;
  sessions(): number;
  close(): Promise<void>;
}

const epochMs = () => performance.timeOrigin + performance.now();

export async function startBackendServer(o: BackendServerOptions): Promise<RunningBackend> {
  let live = () => 0;
  const metrics = backendMetrics(() => live());
  const vad = await selectVad(o.vadEngine ?? "energy", o.log, {
    onBatch: (size, seconds) => {
      metrics.vadWindows.inc({ outcome: "inferred" }, size);
      metrics.vadBatchSeconds.observe(seconds);
    },
    onError: (err) => {
      metrics.vadWindows.inc({ outcome: "failed" });
      o.log?.warn({ err: String(err) }, "vad: a Silero batch failed (its windows count as not speech)");
    },
    onSkipped: () => metrics.vadWindows.inc({ outcome: "skipped" }),
  });
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/healthz") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "ok", sessions: live() }));
      return;
    }
    if (req.method === "GET" && req.url === "/metrics") {
      void metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text));
      return;
    }
    res.writeHead(426, { "content-type": "text/plain" }).end("voice-edge demo backend: WebSocket only\n");
  });
  const wss = new WebSocketServer({
    server,
    path: AGENT_PATH,
    perMessageDeflate: false,
    maxPayload: 4 << 20,
  });
  live = () => wss.clients.size;
  wss.on("connection", (ws, req) => {
    const url = new URL(req.url ?? "/", "http://backend");
    const sessionId = url.searchParams.get("session_id") ?? "unknown";
    serveSession(ws, sessionId, o, metrics, vad);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host;
  return {
    url: `ws://${host}:${port}${AGENT_PATH}`,
    port,
    server,
    wss,
    vad: vad.kind,
    sessions: () => wss.clients.size,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      await vad.close();
    },
  };
}

function serveSession(
  ws: WebSocket,
  sessionId: string,
  o: BackendServerOptions,
  m: BackendMetrics,
  vad: VadEngine,
): void {
  let agent: ParrotAgent | undefined;
  let detach = () => {};
  let frames = 0;
  const log = o.log?.child({ session: sessionId });
  const send = (outs: ReturnType<ParrotAgent["onAudio"]>) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    for (const out of outs) {
      if ("audio" in out) {
        ws.send(out.audio, { binary: true });
        m.framesOut.inc();
      } else {
        ws.send(JSON.stringify(out.event));
        m.eventsOut.inc({ type: String(out.event.type) });
      }
    }
  };
  const hello = setTimeout(() => ws.close(1002, "expected session.start"), 5000);
  ws.on("message", (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      if (!agent) return;
      o.onAudioFrame?.(sessionId, frames, epochMs());
      frames++;
      m.framesIn.inc();
      send(agent.onAudio(buf));
      vad.wake(agent.vad);
      return;
    }
    let e: unknown;
    try {
      e = JSON.parse(buf.toString("utf8"));
    } catch {
      log?.warn("ignored a text frame that is not JSON");
      return;
    }
    if (typeof e !== "object" || e === null || Array.isArray(e)) return;
    const event = e as Record<string, unknown>;
    if (!agent) {
      if (event.type !== "session.start") {
        ws.close(1002, "expected session.start first");
        return;
      }
      clearTimeout(hello);
      const hooks = o.hooks?.(sessionId) ?? {};
      agent = new ParrotAgent(
        (event.session ?? {}) as Record<string, unknown>,
        o.vad,
        {
          onBargeIn: (b) => {
            m.bargeIns.inc();
            log?.info({ response: b.responseId }, "barge-in: the user spoke over the agent");
            hooks.onBargeIn?.(b);
          },
          onTruncated: (r, played, total) => {
            log?.info({ response: r, playedMs: played, totalMs: total }, "agent interrupted");
            hooks.onTruncated?.(r, played, total);
          },
        },
        (cfg) => vad.create(cfg),
      );
      const a = agent;
      detach = vad.attach(a.vad, (events) => send(a.onVadEvents(events)));
      m.sessionsTotal.inc();
      log?.info({ resumed: event.resumed === true, turnDetection: agent.turnDetection }, "session started");
      return;
    }
    send(agent.onEvent(event));
  });
  ws.on("close", () => {
    clearTimeout(hello);
    detach();
    log?.info({ frames }, "session ended");
  });
  ws.on("error", () => {});
}
