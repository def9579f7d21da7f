/** The demo backend with the Silero VAD: turns found over the WebSocket, counted in /metrics; the energy fallback. */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningBackend, startBackendServer } from "../../media/backend/server.ts";
import { selectVad } from "../../media/backend/vad/engine.ts";
import { scene, speak } from "../support/speech.ts";

let backend: RunningBackend;
beforeAll(async () => {
  backend = await startBackendServer({ host: "127.0.0.1", port: 0, vadEngine: "silero" });
});
afterAll(async () => {
  await backend?.close();
});

describe("demo backend with the Silero VAD", () => {
  it("finds a spoken turn in audio sent at real time and answers it", async () => {
    expect(backend.vad).toBe("silero");
    const ws = new WebSocket(`${backend.url}?session_id=s1`);
    const events: string[] = [];
    let audioBytes = 0;
    let done: () => void = () => {};
    const answered = new Promise<void>((r) => {
      done = r;
    });
    ws.on("message", (data, binary) => {
      if (binary) audioBytes += (data as Buffer).length;
      else {
        const type = JSON.parse(String(data)).type as string;
        events.push(type);
        if (type === "response.done") done();
      }
    });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(
      JSON.stringify({
        type: "session.start",
        session: { audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 300 } } } },
      }),
    );
    const s = scene([speak("Good morning, I would like some coffee.")], { snrDb: 20, gapMs: 800 });
    // One 20 ms frame every 20 ms, as a transceiver sends them.
    let at = 0;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (at >= s.pcm.length) {
          clearInterval(t);
          resolve();
          return;
        }
        ws.send(s.pcm.subarray(at, at + 960), { binary: true });
        at += 960;
      }, 20);
    });
    await answered;
    expect(events.slice(0, 2)).toEqual([
      "input_audio_buffer.speech_started",
      "input_audio_buffer.speech_stopped",
    ]);
    expect(events).toContain("response.created");
    expect(audioBytes / 48).toBeGreaterThan(s.turns[0]!.endMs - s.turns[0]!.startMs);
    const metrics = await (await fetch(`http://127.0.0.1:${backend.port}/metrics`)).text();
    const inferred = Number(
      /voice_edge_backend_vad_windows_total\{outcome="inferred"\} (\d+)/.exec(metrics)?.[1],
    );
    expect(inferred).toBeGreaterThan(50);
    ws.close();
  });

  it("auto falls back to the energy VAD (and says so) when the model does not load; silero refuses", async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const engine = await selectVad("auto", log, {}, "/nonexistent/silero.onnx");
    expect(engine.kind).toBe("energy");
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, "vad: silero unavailable, using the energy VAD"],
    ]);
    await expect(selectVad("silero", undefined, {}, "/nonexistent/silero.onnx")).rejects.toThrow();
  });
});
