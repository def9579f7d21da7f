/** The transceiver's WebSocket to a backend: failures to connect, the hello, and backpressure. */
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { BackendLink } from "../../media/transceiver/bridge/backend-client.ts";
import { BackendError } from "../../media/transceiver/bridge/backends.ts";
import { freePort } from "../support/stack.ts";

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

const connect = (url: string, timeoutMs = 1000) =>
  BackendLink.connect({
    url,
    sessionId: "w0_s",
    model: "m",
    callId: "call-1",
    token: "tok",
    timeoutMs,
    hello: { type: "session.start", n: 1 },
  });

async function refusal(p: Promise<unknown>): Promise<BackendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  const b = err as BackendError;
  expect(b.status).toBe(503);
  expect(b.code).toBe("backend_unavailable");
  return b;
}

describe("backend link", () => {
  it("a backend that is not there, answers plain HTTP, or never completes the handshake is a 503", async () => {
    const refused = await refusal(connect(`ws://127.0.0.1:${await freePort()}/v1/agent`));
    expect(refused.message).toContain('backend for model "m" unavailable');
    const http = createServer((_q, s) => s.writeHead(404).end());
    expect((await refusal(connect(`ws://127.0.0.1:${await listen(http)}/x`))).message).toContain("HTTP 404");
    const mute = createServer();
    const held: Duplex[] = [];
    mute.on("upgrade", (_q, socket) => held.push(socket));
    cleanup.push(() => {
      for (const s of held) s.destroy();
    });
    const t0 = performance.now();
    expect((await refusal(connect(`ws://127.0.0.1:${await listen(mute)}/x`, 300))).message).toContain(
      "within 300 ms",
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it("sends the hello first, with the session in the query and the token in a header", async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const seen = new Promise<{ url: string; auth?: string; session?: string; first: string }>((resolve) =>
      wss.on("connection", (ws, req) =>
        ws.once("message", (m) =>
          resolve({
            url: req.url!,
            auth: req.headers.authorization,
            session: req.headers["x-voice-edge-session"] as string,
            first: String(m),
          }),
        ),
      ),
    );
    const port = await listen(server);
    const link = await connect(`ws://127.0.0.1:${port}/v1/agent?tenant=a`);
    const s = await seen;
    expect(new URL(s.url, "http://x").searchParams.toString()).toBe(
      "tenant=a&session_id=w0_s&model=m&call_id=call-1",
    );
    expect(s.auth).toBe("Bearer tok");
    expect(s.session).toBe("w0_s");
    expect(JSON.parse(s.first)).toEqual({ type: "session.start", n: 1 });
    link.close(1000, "done");
    wss.close();
  });

  it("drops audio for a backend that stops reading instead of buffering without bound, and never blocks", async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on("connection", (ws) => ws.pause()); // reads nothing more
    const port = await listen(server);
    const link = await BackendLink.connect({
      url: `ws://127.0.0.1:${port}/`,
      sessionId: "s",
      model: "m",
      timeoutMs: 1000,
      hello: { type: "session.start" },
      maxBufferedBytes: 64 * 1024,
    });
    const frame = Buffer.alloc(960);
    const t0 = performance.now();
    let dropped = 0;
    for (let i = 0; i < 20_000; i++) if (!link.sendAudio(frame, i)) dropped++;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(dropped).toBeGreaterThan(0);
    expect(link.stats.audioFramesDropped).toBe(dropped);
    expect(link.stalledSince).toBeGreaterThan(0);
    expect(link.ws.bufferedAmount).toBeLessThan(64 * 1024 + 2 * 960);
    link.close(1000, "done");
    for (const c of wss.clients) c.terminate();
    wss.close();
  });

  it("reports a backend that goes away, and not a close it asked for itself", async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const port = await listen(server);
    const a = await connect(`ws://127.0.0.1:${port}/`);
    const closes: number[] = [];
    const handlers = {
      onEvent: () => {},
      onAudio: () => {},
      onInvalid: () => {},
      onClose: (code: number) => closes.push(code),
    };
    a.setHandlers(handlers);
    const gone = new Promise<void>((r) => a.ws.once("close", () => r()));
    for (const c of wss.clients) c.terminate();
    await gone;
    expect(closes).toEqual([1006]);
    const b = await connect(`ws://127.0.0.1:${port}/`);
    b.setHandlers(handlers);
    const closed = new Promise<void>((r) => b.ws.once("close", () => r()));
    b.close(1000, "ended");
    await closed;
    expect(closes).toEqual([1006]);
    expect(b.ws.readyState).toBe(WebSocket.CLOSED);
    wss.close();
  });
});
