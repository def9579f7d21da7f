/**
 * A transceiver worker in bridge mode, in-process, behind a real relay:
 * reconnecting to a backend that restarts, and a backend that misbehaves.
 */
import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { type RunningBackend, startBackendServer } from "../../media/backend/server.ts";
import type { Relay } from "../../media/relay/server.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import { freePort, startTestHost, startTestRelay } from "../support/stack.ts";
import { createVoiceClient, type Json, silence, tone, type VoiceClient } from "../support/voice-client.ts";

let relay: Relay;
let worker: SessionHost;
let backendPort: number;
let backend: RunningBackend;
let rogueUrl: string;
let rogue: WebSocketServer;
let listener: WebSocketServer;
/** How the listener backend's sockets were closed, by session id. */
const closes = new Map<string, Promise<{ code: number; reason: string }>>();
const clients: VoiceClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay(5);
  backendPort = await freePort();
  backend = await startBackendServer({ host: "127.0.0.1", port: backendPort });
  // A backend that sends junk first and then one proper answer.
  const http = createServer();
  rogue = new WebSocketServer({ server: http });
  rogue.on("connection", (ws) =>
    ws.once("message", () => {
      ws.send("{ not json");
      ws.send(JSON.stringify({ no: "type" }));
      ws.send(Buffer.alloc(3), { binary: true });
      ws.send(JSON.stringify({ type: "session.updated", session: { hacked: true } }));
      ws.send(JSON.stringify({ type: "response.created", response: { id: "resp_rogue" } }));
      ws.send(Buffer.alloc(960 * 10, 0x10), { binary: true });
      ws.send(JSON.stringify({ type: "response.done", response: { id: "resp_rogue", status: "completed" } }));
    }),
  );
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
  rogueUrl = `ws://127.0.0.1:${(http.address() as { port: number }).port}/`;
  // A backend that only listens, and records how its socket is closed.
  const lhttp = createServer();
  listener = new WebSocketServer({ server: lhttp });
  listener.on("connection", (ws, req) => {
    const session = new URL(req.url!, "http://x").searchParams.get("session_id")!;
    closes.set(
      session,
      new Promise((r) => ws.once("close", (code, reason) => r({ code, reason: reason.toString() }))),
    );
  });
  await new Promise<void>((r) => lhttp.listen(0, "127.0.0.1", () => r()));
  const listenerUrl = `ws://127.0.0.1:${(lhttp.address() as { port: number }).port}/`;
  worker = await startTestHost(relay, {
    cluster: 5,
    bridge: {
      backends: { default: backend.url, rogue: rogueUrl, listener: listenerUrl },
      reconnect: 3,
      connectTimeoutMs: 1000,
    },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await worker?.close();
  for (const c of rogue?.clients ?? []) c.terminate();
  rogue?.close();
  for (const c of listener?.clients ?? []) c.terminate();
  listener?.close();
  await backend?.close();
  await relay?.close();
});

async function call(session?: Json): Promise<{ vc: VoiceClient; id: string }> {
  const vc = createVoiceClient();
  clients.push(vc);
  const created = await worker.createSession({ sdp: await vc.offer(), session });
  await vc.answer(created.sdp);
  await vc.ready();
  await vc.waitEvent("session.created");
  return { vc, id: created.id };
}

describe("bridge mode in a worker", () => {
  it("reconnects to a backend that restarts (when configured) and the call goes on", async () => {
    const { vc, id } = await call({ audio: { input: { turn_detection: { silence_duration_ms: 200 } } } });
    vc.startMic();
    await backend.close(); // every session's socket drops (1006)
    // The restarted backend hears from the session again (its hooks run on session.start).
    let resumed!: (id: string) => void;
    const back = new Promise<string>((r) => (resumed = r));
    backend = await startBackendServer({
      host: "127.0.0.1",
      port: backendPort,
      hooks: (sessionId) => {
        resumed(sessionId);
        return {};
      },
    });
    expect(await back).toBe(id);
    // The new backend got the session (turn detection included) and answers the next turn.
    await vc.say(tone(300, 440));
    await vc.say(silence(100), false);
    await vc.waitEvent("output_audio_buffer.started", { timeoutMs: 3000 });
    expect(vc.events.map((e) => e.event.type)).not.toContain("error");
    const info = (await worker.list()).find((s) => s.id === id)!;
    expect(info.bridge).toMatchObject({ reconnects: 1, state: "open" });
  });

  it("ignores a backend's junk and its session events, and still plays its answer", async () => {
    const { vc, id } = await call({ model: "rogue" });
    const on = await vc.waitEvent("output_audio_buffer.started");
    expect(on.event.response_id).toBe("resp_rogue");
    await vc.waitEvent("output_audio_buffer.stopped");
    expect(vc.events.filter((e) => e.event.type === "session.updated")).toHaveLength(0);
    expect(vc.events.map((e) => e.event.type)).toContain("response.done");
    const info = (await worker.list()).find((s) => s.id === id)!;
    expect(info.bridge!.link.invalidIn).toBe(3);
    expect(info.bridge!.events.backendDropped).toBe(1);
    expect(info.bridge!.output.framesSent).toBe(10);
  });

  it("closes the backend's socket the moment the session ends, with 1000 and the session's close reason", async () => {
    const { vc, id } = await call({ model: "listener" });
    vc.startMic();
    const closed = closes.get(id)!;
    expect(closed).toBeDefined();
    expect(await worker.endSession(id)).toBe(true);
    expect(await closed).toEqual({ code: 1000, reason: "ended" });
    expect((await worker.list()).some((s) => s.id === id)).toBe(false);
  });
});
