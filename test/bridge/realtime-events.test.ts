/** The Realtime WebSocket adapter's protocol half, sans-IO. */
import { describe, expect, it } from "vitest";
import { backendProtocol, parseBackends } from "../../media/transceiver/bridge/backends.ts";
import { RealtimeEvents } from "../../media/transceiver/bridge/realtime-events.ts";
import { upstreamTarget } from "../../media/transceiver/bridge/upstream-link.ts";

const delta = (o: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: "response.output_audio.delta",
    response_id: "resp_1",
    item_id: "item_1",
    content_index: 0,
    delta: Buffer.from([1, 0, 2, 0]).toString("base64"),
    ...o,
  });

describe("realtime upstream: configuration", () => {
  it("a realtime+ws(s) URL selects the adapter, in a map or alone for every model", () => {
    const url = "realtime+wss://api.openai.com/v1/realtime?model=gpt-realtime";
    expect(parseBackends(`default=${url},x=ws://h:1/a`)).toEqual({ default: url, x: "ws://h:1/a" });
    expect(parseBackends(url)).toEqual({ default: url, "*": url });
    expect(backendProtocol(url)).toBe("realtime");
    expect(backendProtocol("realtime+ws://127.0.0.1:9900/v1/realtime")).toBe("realtime");
    expect(backendProtocol("ws://h/")).toBe("voice-edge");
    expect(() => parseBackends("realtime+ws://u:secret@h/x")).toThrow(/credentials/);
    expect(() => parseBackends("realtime+http://h/x")).toThrow(/must be ws/);
  });

  it("dials the plain ws(s) URL with the key from the environment, never from the URL", () => {
    const env = { OPENAI_API_KEY: "sk-default", AZURE_KEY: "az-1" };
    const a = upstreamTarget("realtime+wss://api.openai.com/v1/realtime?model=gpt-realtime", "default", env);
    expect(a.url.toString()).toBe("wss://api.openai.com/v1/realtime?model=gpt-realtime");
    expect(a.headers).toEqual({ authorization: "Bearer sk-default" });
    const b = upstreamTarget(
      "realtime+wss://r.openai.azure.com/openai/v1/realtime?model=dep&key_env=AZURE_KEY&key_header=api-key",
      "default",
      env,
    );
    expect(b.url.toString()).toBe("wss://r.openai.azure.com/openai/v1/realtime?model=dep");
    expect(b.headers).toEqual({ "api-key": "az-1" });
    // No model in the URL: the session's, if it names one. No key in the environment: no header.
    const c = upstreamTarget("realtime+ws://127.0.0.1:9900/v1/realtime", "my-model", {});
    expect(c.url.searchParams.get("model")).toBe("my-model");
    expect(c.headers).toEqual({});
    expect(upstreamTarget("realtime+ws://h/r", "default", {}).url.searchParams.has("model")).toBe(false);
  });
});

describe("realtime upstream: events", () => {
  it("session.update without our fields, with PCM16 24 kHz both ways whatever the client asked", () => {
    const r = new RealtimeEvents();
    const u = r.sessionUpdate(
      {
        id: "sess_w0",
        object: "realtime.session",
        model: "m",
        type: "realtime",
        instructions: "be brief",
        audio: { input: { format: { type: "audio/pcmu" }, turn_detection: { type: "server_vad" } } },
      },
      "c1",
    );
    expect(u).toEqual({
      event_id: "c1",
      type: "session.update",
      session: {
        type: "realtime",
        instructions: "be brief",
        audio: {
          input: { format: { type: "audio/pcm", rate: 24000 }, turn_detection: { type: "server_vad" } },
          output: { format: { type: "audio/pcm", rate: 24000 } },
        },
      },
    });
    const beta = r.sessionUpdate({ input_audio_format: "g711_ulaw", voice: "alloy" }).session;
    expect(beta).toEqual({ input_audio_format: "pcm16", output_audio_format: "pcm16", voice: "alloy" });
    // The bridge's whole-session session.update goes through the same rewrite.
    expect(r.toUpstream({ type: "session.update", session: { id: "x", model: "m" } })).toMatchObject({
      session: { audio: { input: { format: { rate: 24000 } } } },
    });
  });

  it("input audio as input_audio_buffer.append with base64 PCM", () => {
    const pcm = Buffer.from([1, 2, 3, 4]);
    expect(JSON.parse(new RealtimeEvents().append(pcm))).toEqual({
      type: "input_audio_buffer.append",
      audio: pcm.toString("base64"),
    });
  });

  it("output audio deltas (GA and beta names) become PCM, not events", () => {
    const r = new RealtimeEvents();
    expect(r.fromUpstream(delta())).toEqual([{ kind: "audio", pcm: Buffer.from([1, 0, 2, 0]) }]);
    expect(r.fromUpstream(delta({ type: "response.audio.delta" }))[0]!.kind).toBe("audio");
    const other = { type: "response.output_audio_transcript.delta", delta: "hi" };
    expect(r.fromUpstream(JSON.stringify(other))).toEqual([{ kind: "event", event: other }]);
  });

  it("malformed frames and bad audio are faults", () => {
    const r = new RealtimeEvents();
    for (const bad of [
      "{ nope",
      "[1]",
      '{"no":"type"}',
      delta({ delta: "not base64!" }),
      delta({ delta: "QUJD" }), // 3 bytes: not PCM16
      delta({ delta: 5 }),
    ]) {
      const out = r.fromUpstream(bad);
      expect(out).toHaveLength(1);
      expect(out[0]!.kind, bad).toBe("fault");
    }
  });

  it("speech_started while a response's audio is outstanding is a barge-in: clear, then truncate at what was heard", () => {
    const r = new RealtimeEvents();
    const speech = JSON.stringify({
      type: "input_audio_buffer.speech_started",
      audio_start_ms: 900,
      item_id: "in_2",
    });
    // Nothing playing: speech_started is just an event.
    expect(r.fromUpstream(speech)).toHaveLength(1);
    r.fromUpstream(delta());
    expect(r.toUpstream({ type: "output_audio_buffer.started", response_id: "resp_1" })).toBeUndefined();
    const out = r.fromUpstream(speech);
    expect(out.map((x) => (x.kind === "event" ? x.event.type : x.kind))).toEqual([
      "input_audio_buffer.speech_started",
      "output_audio_buffer.clear",
    ]);
    expect(
      r.toUpstream({ type: "output_audio_buffer.cleared", response_id: "resp_1", played_ms: 340 }),
    ).toEqual({
      type: "conversation.item.truncate",
      item_id: "item_1",
      content_index: 0,
      audio_end_ms: 340,
    });
    // Once: the next speech is not a barge-in, and a second clear truncates nothing.
    expect(r.fromUpstream(speech)).toHaveLength(1);
    expect(
      r.toUpstream({ type: "output_audio_buffer.cleared", response_id: "resp_1", played_ms: 0 }),
    ).toBeUndefined();
  });

  it("a response that played out is not truncated, and other client events pass unchanged", () => {
    const r = new RealtimeEvents();
    r.fromUpstream(delta());
    expect(
      r.toUpstream({ type: "output_audio_buffer.stopped", response_id: "resp_1", played_ms: 20 }),
    ).toBeUndefined();
    expect(r.fromUpstream(JSON.stringify({ type: "input_audio_buffer.speech_started" }))).toHaveLength(1);
    expect(
      r.toUpstream({ type: "output_audio_buffer.cleared", response_id: "resp_1", played_ms: 20 }),
    ).toBeUndefined();
    const ev = { type: "conversation.item.create", event_id: "e1", item: { type: "message" } };
    expect(r.toUpstream(ev)).toBe(ev);
  });
});
