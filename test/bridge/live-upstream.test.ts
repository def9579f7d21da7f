/** The GPT-Live WebSocket adapter's protocol half, sans-IO (field names: the `openai` package's live types). */
import { describe, expect, it } from "vitest";
import { backendProtocol, parseBackends } from "../../media/transceiver/bridge/backends.ts";
import { LiveEvents } from "../../media/transceiver/bridge/live-events.ts";
import { upstreamTarget } from "../../media/transceiver/bridge/upstream-link.ts";

const b64 = (bytes: number[]) => Buffer.from(bytes).toString("base64");

describe("live upstream: configuration", () => {
  it("a live+ws(s) URL selects the adapter, in a map or alone for every model", () => {
    const url = "live+wss://api.openai.com/v1/live/sessions";
    expect(parseBackends(`gpt-live-1=${url},x=ws://h:1/a`)).toEqual({ "gpt-live-1": url, x: "ws://h:1/a" });
    expect(parseBackends(url)).toEqual({ default: url, "*": url });
    expect(backendProtocol(url)).toBe("live");
    expect(backendProtocol("live+ws://127.0.0.1:9901/v1/live/sessions")).toBe("live");
    expect(() => parseBackends("live+ws://u:secret@h/x")).toThrow(/credentials/);
    expect(() => parseBackends("live+http://h/x")).toThrow(/live\+ws/);
  });

  it("dials the plain URL with the key from the environment, and never puts the model in it", () => {
    const env = { OPENAI_API_KEY: "sk-default", LIVE_KEY: "sk-live" };
    const a = upstreamTarget("live+wss://api.openai.com/v1/live/sessions", "gpt-live-1", env, false);
    expect(a.url.toString()).toBe("wss://api.openai.com/v1/live/sessions");
    expect(a.headers).toEqual({ authorization: "Bearer sk-default" });
    const b = upstreamTarget("live+ws://127.0.0.1:9901/v1/live/sessions?key_env=LIVE_KEY", "m", env, false);
    expect(b.url.toString()).toBe("ws://127.0.0.1:9901/v1/live/sessions");
    expect(b.headers).toEqual({ authorization: "Bearer sk-live" });
  });
});

describe("live upstream: events", () => {
  it("session.start carries the create request's config without our fields, the model, PCM16 24 kHz", () => {
    const start = new LiveEvents().sessionStart(
      {
        id: "sess_w0_a",
        type: "live",
        status: "active",
        expires_at: 0,
        model: "gpt-live-1",
        instructions: "be brief",
        audio: { output: { voice: "cedar" } },
        delegation: { type: "client" },
      },
      "gpt-live-1",
    );
    expect(start).toEqual({
      type: "session.start",
      session: {
        model: "gpt-live-1",
        instructions: "be brief",
        audio: { output: { voice: "cedar" }, format: { type: "audio/pcm", rate: 24000 } },
        delegation: { type: "client" },
      },
    });
    // A session naming no model gets the bridge's.
    expect(new LiveEvents().sessionStart({}, "m1").session).toMatchObject({ model: "m1" });
  });

  it("the handshake: session.started starts the session; an error or anything else refuses it", () => {
    const l = new LiveEvents();
    expect(l.handshake(JSON.stringify({ type: "session.started", session: { id: "s1" } }))).toEqual({
      started: { id: "s1" },
    });
    expect(
      l.handshake(
        JSON.stringify({ type: "error", error: { code: "invalid_model", message: "no such model" } }),
      ),
    ).toEqual({ refused: "it answered session.start with invalid_model: no such model" });
    expect(l.handshake(JSON.stringify({ type: "info", code: "x" }))).toEqual({
      refused: "it sent info before session.started",
    });
    expect(l.handshake("{ nope")).toEqual({ refused: "the upstream sent a frame that is not JSON" });
  });

  it("audio: appends as session.input_audio.append, deltas decoded, bad base64 a fault", () => {
    const l = new LiveEvents();
    expect(JSON.parse(l.append(Buffer.from([1, 0, 2, 0])))).toEqual({
      type: "session.input_audio.append",
      audio: b64([1, 0, 2, 0]),
    });
    const [audio] = l.fromUpstream(
      JSON.stringify({ type: "session.output_audio.delta", delta: b64([5, 0, 6, 0]) }),
    );
    expect(audio).toEqual({ kind: "audio", pcm: Buffer.from([5, 0, 6, 0]) });
    expect(
      l.fromUpstream(JSON.stringify({ type: "session.output_audio.delta", delta: "%%" }))[0],
    ).toMatchObject({
      kind: "fault",
      message: expect.stringContaining("not base64"),
    });
    expect(
      l.fromUpstream(JSON.stringify({ type: "session.output_audio.delta", delta: b64([1]) }))[0],
    ).toMatchObject({
      kind: "fault",
      message: expect.stringContaining("odd number"),
    });
    expect(l.fromUpstream("[1]")[0]).toMatchObject({ kind: "fault" });
  });

  it("client events pass; session.update only with what Live lets change; our playout events stay here", () => {
    const l = new LiveEvents();
    const append = { type: "session.instructions.append", event_id: "e1", instructions: "x" };
    expect(l.toUpstream(append)).toBe(append);
    expect(
      l.toUpstream({
        type: "session.update",
        event_id: "u1",
        session: {
          id: "sess_x",
          model: "m",
          instructions: "i",
          triggers: [],
          delegation: { type: "client" },
        },
      }),
    ).toEqual({
      type: "session.update",
      event_id: "u1",
      session: { triggers: [], delegation: { type: "client" } },
    });
    expect(l.toUpstream({ type: "session.update", session: { instructions: "immutable" } })).toBeUndefined();
    for (const type of [
      "output_audio_buffer.started",
      "output_audio_buffer.stopped",
      "output_audio_buffer.cleared",
    ])
      expect(l.toUpstream({ type, response_id: "r" })).toBeUndefined();
  });

  it("session.closed from the upstream ends the session with its reason; then no goodbye of ours", () => {
    const l = new LiveEvents();
    expect(l.closeEvent()).toEqual({ type: "session.close" });
    const info = { type: "session.output_transcript.delta", delta: "hi", start_ms: 0, end_ms: 5 };
    expect(l.fromUpstream(JSON.stringify(info))).toEqual([{ kind: "event", event: info }]);
    expect(
      l.fromUpstream(JSON.stringify({ type: "session.closed", reason: "expired", usage: { seconds: 3 } })),
    ).toEqual([{ kind: "end", reason: "expired" }]);
    expect(l.closeEvent()).toBeUndefined();
  });
});
