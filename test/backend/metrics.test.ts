/** The demo backend reports health and Prometheus metrics next to its WebSocket. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningBackend, startBackendServer } from "../../media/backend/server.ts";

let backend: RunningBackend;
beforeAll(async () => {
  backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await backend?.close();
});

const httpBase = () => `http://127.0.0.1:${backend.port}`;

describe("demo backend operations", () => {
  it("serves /healthz and counts sessions and audio frames in /metrics", async () => {
    const health = await fetch(`${httpBase()}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", sessions: 0 });

    const ws = new WebSocket(`${backend.url}?session_id=s1`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(JSON.stringify({ type: "session.start", session: {} }));
    const frame = Buffer.alloc(960); // 20 ms of PCM16 at 24 kHz, silent
    for (let i = 0; i < 5; i++) ws.send(frame, { binary: true });
    const deadline = Date.now() + 3000;
    let text = "";
    while (Date.now() < deadline) {
      text = await (await fetch(`${httpBase()}/metrics`)).text();
      if (/voice_edge_backend_audio_frames_in_total 5/.test(text)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(text).toMatch(/voice_edge_backend_audio_frames_in_total 5/);
    expect(text).toMatch(/voice_edge_backend_sessions_total 1/);
    expect(text).toMatch(/voice_edge_backend_sessions 1/);
    ws.close();
    expect((await fetch(`${httpBase()}/other`)).status).toBe(426);
  });
});
