import { describe, expect, it } from "vitest";
import {
  BackendError,
  parseBackends,
  resolveBackend,
  sessionModel,
} from "../../media/transceiver/bridge/backends.ts";
import { type Action, type Json, OaiEvents } from "../../media/transceiver/bridge/oai-events.ts";

const ev = () =>
  new OaiEvents({
    sessionId: "w0_abc",
    model: "default",
    initial: { instructions: "hi", audio: { output: { voice: "alloy" } } },
  });
const only = (actions: Action[], kind: Action["kind"]) => actions.filter((a) => a.kind === kind);
const clientEvent = (a: Action[]) => (only(a, "client")[0] as { event: Json }).event;
const errorOf = (a: Action[]) => clientEvent(a).error as Json;

describe("oai-events: the greeting of each dialect", () => {
  it.each([
    {
      dialect: "Realtime",
      events: ev,
      type: "session.created",
      session: { object: "realtime.session", type: "realtime", model: "default" },
      without: [],
    },
    {
      dialect: "GPT-Live",
      events: () =>
        new OaiEvents({
          sessionId: "w0_abc",
          model: "gpt-live-1",
          initial: { type: "live", instructions: "hi" },
        }),
      type: "session.started",
      // Live's session resource: a status and an expiry, no `object`.
      session: { model: "gpt-live-1", status: "active", expires_at: 0 },
      without: ["object"],
    },
  ])(
    "$dialect: $type carries the initial config, a session id and the model",
    ({ events, type, session, without }) => {
      const greeting = events().created();
      expect(greeting.type).toBe(type);
      expect(greeting.event_id).toMatch(/^event_/);
      expect(greeting.session).toMatchObject({ id: "sess_w0_abc", instructions: "hi", ...session });
      for (const key of without) expect(greeting.session).not.toHaveProperty(key);
    },
  );
});

describe("oai-events: the transceiver's side of the Realtime API", () => {
  it("answers session.update with the merged session and gives the backend the whole of it", () => {
    const e = ev();
    const a = e.fromClient(
      JSON.stringify({
        type: "session.update",
        event_id: "c1",
        session: { audio: { output: { speed: 1.2 } }, model: "other", id: "x" },
      }),
    );
    const updated = clientEvent(a);
    expect(updated.type).toBe("session.updated");
    expect(updated.session).toMatchObject({
      id: "sess_w0_abc",
      model: "default",
      instructions: "hi",
      audio: { output: { voice: "alloy", speed: 1.2 } },
    });
    const toBackend = (only(a, "backend")[0] as { event: Json }).event;
    expect(toBackend).toEqual({ type: "session.update", event_id: "c1", session: updated.session });
    // null replaces (turn_detection: null turns VAD off), arrays replace.
    const b = e.fromClient(
      JSON.stringify({
        type: "session.update",
        session: { audio: { input: { turn_detection: null } }, tools: [1] },
      }),
    );
    expect(clientEvent(b).session).toMatchObject({ audio: { input: { turn_detection: null } }, tools: [1] });
  });

  it.each([
    [{ audio: { input: { format: { type: "audio/pcm", rate: 24000 } } } }],
    [{ audio: { input: { format: { type: "audio/pcmu" } }, output: { format: { type: "audio/pcma" } } } }],
    [{ input_audio_format: "g711_ulaw", output_audio_format: "pcm16" }],
  ])("accepts the Realtime API's PCM formats (%j): the WebRTC codec stays Opus", (session) => {
    expect(clientEvent(ev().fromClient(JSON.stringify({ type: "session.update", session }))).type).toBe(
      "session.updated",
    );
  });

  it.each([
    [{ audio: { input: { format: { type: "audio/pcm", rate: 16000 } } } }, "session.audio.input.format.rate"],
    [{ audio: { output: { format: "pcm16" } } }, "session.audio.output.format"],
    [{ audio: [] }, "session.audio"],
    [{ input_audio_format: "opus" }, "session.input_audio_format"],
  ])("refuses a bad format (%j) naming the field, and keeps the session", (session, param) => {
    const e = ev();
    const before = e.session;
    const err = errorOf(e.fromClient(JSON.stringify({ type: "session.update", event_id: "c9", session })));
    expect(err).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_value",
      param,
      event_id: "c9",
    });
    expect(e.session).toBe(before);
  });

  it("turns bad input into error events, never exceptions", () => {
    const e = ev();
    expect(errorOf(e.fromClient("{nope")).code).toBe("invalid_json");
    expect(errorOf(e.fromClient("null")).code).toBe("invalid_event");
    expect(errorOf(e.fromClient('"text"')).code).toBe("invalid_event");
    expect(errorOf(e.fromClient("{}")).code).toBe("missing_type");
    expect(errorOf(e.fromClient('{"type":"response.explode","event_id":"z"}'))).toMatchObject({
      code: "unknown_event_type",
      param: "type",
      event_id: "z",
    });
    expect(errorOf(e.fromClient(Buffer.from("x".repeat(300 * 1024)))).code).toBe("event_too_large");
    expect(e.stats.clientErrors).toBe(6);
  });

  it("routes client events: clear is the transceiver's, the rest go to the backend as sent", () => {
    const e = ev();
    expect(e.fromClient('{"type":"output_audio_buffer.clear","event_id":"k"}')).toEqual([
      { kind: "clear", eventId: "k" },
    ]);
    const create = { type: "response.create", response: { instructions: "x" } };
    expect(e.fromClient(JSON.stringify(create))).toEqual([{ kind: "backend", event: create }]);
    expect(
      e.fromClient('{"type":"conversation.item.truncate","item_id":"i","audio_end_ms":5}')[0]!.kind,
    ).toBe("backend");
  });

  it("routes backend events: forwarded with an event_id; response boundaries drive the playout", () => {
    const e = ev();
    const created = e.fromBackend({ type: "response.created", response: { id: "r1" } });
    expect(created[0]).toEqual({ kind: "begin", responseId: "r1" });
    expect(clientEvent(created)).toMatchObject({
      type: "response.created",
      event_id: expect.stringMatching(/^event_/),
    });
    expect(e.fromBackend({ type: "response.done", event_id: "keep", response: { id: "r1" } })).toEqual([
      { kind: "finish", responseId: "r1" },
      { kind: "client", event: { type: "response.done", event_id: "keep", response: { id: "r1" } } },
    ]);
    expect(e.fromBackend({ type: "response.output_audio.done", response_id: "r1" })[0]).toEqual({
      kind: "finish",
      responseId: "r1",
    });
    expect(e.fromBackend({ type: "output_audio_buffer.clear" })).toEqual([{ kind: "clear" }]);
    // The transceiver owns these: a backend's are dropped.
    expect(e.fromBackend({ type: "session.updated", session: {} })).toEqual([]);
    expect(e.fromBackend({ type: "output_audio_buffer.started" })).toEqual([]);
    expect(e.stats.backendDropped).toBe(2);
  });
});

describe("backends: model -> WebSocket URL", () => {
  it("parses the configuration and refuses what is not a ws URL", () => {
    expect(
      parseBackends("default=ws://127.0.0.1:8790/v1/agent, gpt-realtime=wss://ai.internal/rt ,*=ws://h:1"),
    ).toEqual({
      default: "ws://127.0.0.1:8790/v1/agent",
      "gpt-realtime": "wss://ai.internal/rt",
      "*": "ws://h:1/",
    });
    expect(parseBackends("")).toEqual({});
    expect(() => parseBackends("default")).toThrow(/model=ws/);
    expect(() => parseBackends("default=http://x")).toThrow(/ws:\/\/, wss:\/\/, realtime\+ws/);
    expect(() => parseBackends("a=ws://x,a=ws://y")).toThrow(/twice/);
    expect(() => parseBackends("bad name=ws://x")).toThrow(/not valid/);
  });

  it("picks by model, 'default' when none is named, '*' for the rest, else a 400", () => {
    const b = { default: "ws://d/", "gpt-realtime": "ws://g/" };
    expect(resolveBackend(b, sessionModel({ model: "gpt-realtime" }))).toBe("ws://g/");
    expect(resolveBackend(b, sessionModel({}))).toBe("ws://d/");
    expect(resolveBackend(b, sessionModel(undefined))).toBe("ws://d/");
    expect(resolveBackend({ ...b, "*": "ws://any/" }, "other")).toBe("ws://any/");
    const err = (() => {
      try {
        resolveBackend(b, "other");
      } catch (e) {
        return e as BackendError;
      }
    })()!;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("model_not_supported");
    expect(err.message).toContain('"other"');
    expect(() => resolveBackend({ x: "ws://x/" }, "default")).toThrow(/names no model/);
  });
});
