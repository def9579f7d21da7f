/**
 * The Realtime-WebSocket upstream through the whole stack: `voice-edge stack`
 * (edge in Miniflare, ingress and cluster relays as processes, a transceiver
 * host with two workers) with the topology's "backend" set to the mock
 * Realtime server of test/support/realtime-mock.ts, and werift voice clients
 * that call the edge as an app would: an ephemeral key from client_secrets,
 * then POST /v1/realtime/calls. Audio both ways by content, the WebRTC-only
 * output_audio_buffer events, barge-in and the client's clear with truncation
 * at what was heard, pass-through both ways, and each upstream fault with
 * what the client sees, the metrics, and a bystander call that goes on.
 * (Worker-level detail: test/bridge/realtime-session.test.ts.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../media/transceiver/session.ts";
import {
  type MockCall,
  type RealtimeMock,
  startRealtimeMock,
  UPSTREAM_RATE,
} from "../support/realtime-mock.ts";
import { txFetch } from "../support/stack.ts";
import { sayToUpstream } from "../support/upstream-checks.ts";
import { DEV_KEY, upstreamStackForFile } from "../support/upstream-stack.ts";
import { eventTypes, expectTone, type Json, toneLevel, type VoiceClient } from "../support/voice-client.ts";

/** The upstream's key, in a variable the backend URL names (key_env): never the client's. */
const UPSTREAM_KEY = "sk-upstream-test-not-a-real-key";
// No model in the URL: each session's model is sent.
const fixture = upstreamStackForFile<MockCall, RealtimeMock>({
  cluster: 34,
  workers: 2,
  startMock: startRealtimeMock,
  backend: (port) => `realtime+ws://127.0.0.1:${port}/v1/realtime`,
  upstreamKey: { env: "VOICE_EDGE_TEST_UPSTREAM_KEY", key: UPSTREAM_KEY },
});

const edge = () => fixture.stack.edge!.url;
const tx = () => fixture.stack.transceivers[0]!.url;

/** An ephemeral key as an app's server mints it, with a session. */
async function clientSecret(session: Json): Promise<string> {
  const res = await fetch(`${edge()}/v1/realtime/client_secrets`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${DEV_KEY}` },
    body: JSON.stringify({ session }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: string }).value;
}

/** POST /v1/realtime/calls as a browser app does: multipart sdp + session, the ephemeral key. */
async function postCall(vc: VoiceClient, key: string, session?: Json): Promise<Response> {
  const form = new FormData();
  form.set("sdp", await vc.offer());
  if (session) form.set("session", JSON.stringify(session));
  return fetch(`${edge()}/v1/realtime/calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
}

interface Call {
  vc: VoiceClient;
  up: MockCall;
  /** The transceiver's session id. */
  id: string;
}

const SECRET_SESSION = {
  type: "realtime",
  model: "gpt-realtime",
  instructions: "be brief",
  audio: { output: { voice: "marin" } },
};

async function call(o: { secret?: Json; session?: Json } = {}): Promise<Call> {
  const vc = fixture.client();
  const before = new Set((await sessions()).map((s) => s.id));
  const upstream = fixture.mock.next(10_000);
  const res = await postCall(vc, await clientSecret(o.secret ?? SECRET_SESSION), o.session);
  expect(res.status).toBe(201);
  const sdp = await res.text();
  const up = await upstream;
  await vc.answer(sdp);
  await vc.ready();
  await vc.waitEvent("session.created", { timeoutMs: 10_000 });
  // The calls of this file are made one at a time: the new session is this one.
  const fresh = (await sessions()).filter((s) => !before.has(s.id));
  expect(fresh).toHaveLength(1);
  return { vc, up, id: fresh[0]!.id };
}

async function sessions(): Promise<SessionInfo[]> {
  const res = await txFetch(`${tx()}/v1/sessions`, {}, fixture.stack.token);
  return ((await res.json()) as { sessions: SessionInfo[] }).sessions;
}

/** Sum of a transceiver metric over its workers, for the labels given. */
async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${tx()}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== `voice_edge_transceiver_${name}`) continue;
    const l = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => l[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** The model answers with `ms` of `freq`; resolves with what the client heard of it once stopped. */
async function answerHeard(c: Call, ms: number, freq: number): Promise<Int16Array> {
  const from = c.vc.events.length;
  const heardFrom = c.vc.heard.length;
  const { responseId } = c.up.respond({ ms, freq });
  await c.vc.waitEvent("output_audio_buffer.started", { from, timeoutMs: 10_000 });
  const stopped = await c.vc.waitEvent("output_audio_buffer.stopped", { from, timeoutMs: ms + 10_000 });
  expect(stopped.event.response_id).toBe(responseId);
  return c.vc.decode(c.vc.heard.slice(heardFrom));
}

describe("Realtime upstream through the whole stack (werift clients)", () => {
  it("applies client_secrets and the multipart session upstream, with the key from the environment; session events in the client's shapes", async () => {
    const tools = [
      {
        type: "function",
        name: "get_weather",
        description: "the weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    ];
    const { vc, up } = await call({ session: { tools, tool_choice: "auto" } });
    expect(up.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    // The session's model goes upstream; our key_env parameter does not.
    expect(up.url).toBe("/v1/realtime?model=gpt-realtime");
    const update = await up.waitFor("session.update");
    expect(update.session).toMatchObject({
      type: "realtime",
      instructions: "be brief",
      tools,
      tool_choice: "auto",
      audio: {
        input: { format: { type: "audio/pcm", rate: 24000 } },
        output: { voice: "marin", format: { type: "audio/pcm", rate: 24000 } },
      },
    });
    // The client's key, the edge's ids, the model (in the URL): not the upstream's business.
    expect(JSON.stringify(up.received)).not.toContain("ek_");
    expect(update.session).not.toHaveProperty("id");
    expect(update.session).not.toHaveProperty("model");

    // session.created as OpenAI's WebRTC endpoint sends it: once, first, with the call's session.
    const created = vc.events.filter((e) => e.event.type === "session.created");
    expect(created).toHaveLength(1);
    expect(vc.events[0]!.event.type).toBe("session.created");
    expect(created[0]!.event).toMatchObject({
      event_id: expect.stringMatching(/^event_/),
      session: {
        id: expect.stringMatching(/^sess_/),
        object: "realtime.session",
        type: "realtime",
        model: "gpt-realtime",
        instructions: "be brief",
        tools,
        audio: { output: { voice: "marin" } },
      },
    });
    // session.update from the client: session.updated with the merged session, and upstream the same.
    const from = vc.events.length;
    vc.send({
      type: "session.update",
      event_id: "cli_1",
      session: { type: "realtime", instructions: "be briefer" },
    });
    const updated = await vc.waitEvent("session.updated", { from });
    expect(updated.event.session).toMatchObject({
      object: "realtime.session",
      model: "gpt-realtime",
      instructions: "be briefer",
      tools,
      audio: { output: { voice: "marin" } },
    });
    const again = await up.waitFor(
      "session.update",
      (e) => (e.session as Json).instructions === "be briefer",
    );
    expect(again.event_id).toBe("cli_1");
    expect(again.session).toMatchObject({ tools, audio: { output: { voice: "marin" } } });
    // The upstream's own session.updated answers are not the client's: one session.updated only
    // (an event the upstream sends after its session.updated has reached the client).
    up.send({ event_id: "evt_rl", type: "rate_limits.updated", rate_limits: [] });
    await vc.waitEvent("rate_limits.updated", { from });
    expect(eventTypes(vc, from).filter((t) => t === "session.updated")).toHaveLength(1);
  });

  it("carries audio both ways by content: the caller's 440 Hz upstream, the model's 660 Hz to the caller, paced, framed by output_audio_buffer.started/stopped", async () => {
    const c = await call();
    const { vc, up } = c;
    const input = await sayToUpstream(vc, up, { ms: 600, freq: 440, timeoutMs: 10_000 });
    expectTone(input, 440, 660, UPSTREAM_RATE);
    // Every append is a JSON event with base64 PCM16, one per 20 ms frame.
    const appends = up.received.filter((e) => e.type === "input_audio_buffer.append");
    expect(appends.length).toBeGreaterThanOrEqual(30);
    expect(Buffer.from(appends[0]!.audio as string, "base64").length).toBe(960);

    const from = vc.events.length;
    const heardFrom = vc.heard.length;
    const out = await answerHeard(c, 1000, 660);
    expectTone(out, 660, 440);
    const heard = vc.heard.slice(heardFrom);
    expect(heard.length).toBeGreaterThanOrEqual(50);
    expect(heard.at(-1)!.at - heard[0]!.at).toBeGreaterThan(800);
    const seen = eventTypes(vc, from);
    expect(seen.indexOf("output_audio_buffer.started")).toBeLessThan(
      seen.indexOf("output_audio_buffer.stopped"),
    );
    expect(seen).toEqual(expect.arrayContaining(["response.created", "response.done"]));
    expect(seen).not.toContain("response.output_audio.delta");
    // Our playout events are not sent upstream.
    expect(up.received.map((e) => e.type)).not.toContain("output_audio_buffer.started");
  });

  it("passes other events through both ways unchanged: a tool call and its output, the upstream's error event", async () => {
    const { vc, up } = await call();
    const from = vc.events.length;
    const toolEvents: Json[] = [
      {
        event_id: "evt_up_1",
        type: "response.output_item.added",
        response_id: "resp_t",
        output_index: 0,
        item: {
          id: "item_fc",
          type: "function_call",
          status: "in_progress",
          name: "get_weather",
          call_id: "call_1",
          arguments: "",
        },
      },
      {
        event_id: "evt_up_2",
        type: "response.function_call_arguments.done",
        response_id: "resp_t",
        item_id: "item_fc",
        output_index: 0,
        call_id: "call_1",
        name: "get_weather",
        arguments: '{"city":"Paris"}',
      },
      {
        event_id: "evt_up_3",
        type: "conversation.item.input_audio_transcription.completed",
        item_id: "item_in",
        content_index: 0,
        transcript: "what is the weather in Paris",
      },
    ];
    for (const e of toolEvents) up.send(e);
    for (const e of toolEvents) expect((await vc.waitEvent(e.type as string, { from })).event).toEqual(e);
    // The client answers the tool call; the upstream gets exactly that.
    const output = {
      type: "conversation.item.create",
      event_id: "cli_out",
      item: { type: "function_call_output", call_id: "call_1", output: '{"temp_c":21}' },
    };
    vc.send(output);
    vc.send({ type: "response.create", event_id: "cli_rc", response: { instructions: "say it" } });
    expect(await up.waitFor("conversation.item.create")).toEqual(output);
    expect(await up.waitFor("response.create")).toEqual({
      type: "response.create",
      event_id: "cli_rc",
      response: { instructions: "say it" },
    });
    // An upstream error event is the client's to see, and does not end the call.
    const err = {
      event_id: "evt_up_err",
      type: "error",
      error: {
        type: "invalid_request_error",
        code: "unknown_parameter",
        message: "Unknown parameter: 'session.foo'.",
        param: "session.foo",
        event_id: "cli_x",
      },
    };
    up.send(err);
    expect((await vc.waitEvent("error", { from })).event).toEqual(err);
    const out = await answerHeard({ vc, up, id: "" }, 300, 700);
    expect(toneLevel(out, 700)).toBeGreaterThan(0.05);
  });

  it("barge-in: speech_started while the model speaks stops the RTP at once and truncates at what the caller heard", async () => {
    const { vc, up } = await call();
    vc.startMic();
    const from = vc.events.length;
    const { itemId, responseId } = up.respond({ ms: 5000, freq: 660 });
    await vc.waitEvent("output_audio_buffer.started", { from, timeoutMs: 10_000 });
    const heardFrom = vc.heard.length;
    await vc.until(() => vc.heard.length - heardFrom >= 25, "500 ms of the answer", 10_000);
    up.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 1200, item_id: "item_in_1" });
    const cleared = await vc.waitEvent("output_audio_buffer.cleared", { from });
    expect(cleared.event.response_id).toBe(responseId);
    const truncate = await up.waitFor("conversation.item.truncate");
    expect(truncate).toMatchObject({ item_id: itemId, content_index: 0 });
    // A round trip through the data channel lets packets still in flight land.
    vc.send({ type: "response.cancel", event_id: "cli_rt" });
    await up.waitFor("response.cancel");
    await vc.waitEvent("conversation.item.truncated", { from });
    const heard = vc.heard.length - heardFrom;
    // What the model is told was played is what the caller heard: within two frames.
    expect(Math.abs((truncate.audio_end_ms as number) - heard * 20)).toBeLessThanOrEqual(40);
    expect(truncate.audio_end_ms).toBeGreaterThanOrEqual(500);
    expect(truncate.audio_end_ms).toBeLessThan(5000);
    // And then nothing more of the 5 s answer.
    const settled = vc.heard.length;
    const more = up.respond({ ms: 200, freq: 500 }); // the next answer plays: playout still works
    await vc.waitEvent("output_audio_buffer.stopped", {
      from,
      pred: (e) => e.response_id === more.responseId,
      timeoutMs: 10_000,
    });
    expect(vc.heard.length - settled).toBeGreaterThanOrEqual(10);
    expect(vc.heard.length - settled).toBeLessThanOrEqual(10 + 2);
    expect(eventTypes(vc, from)).not.toContain("error");
  });

  it("the client's response.cancel + output_audio_buffer.clear: cancel upstream unchanged, playout cut, truncated at what was heard", async () => {
    const { vc, up } = await call();
    const from = vc.events.length;
    const { itemId, responseId } = up.respond({ ms: 4000, freq: 550 });
    await vc.waitEvent("output_audio_buffer.started", { from, timeoutMs: 10_000 });
    const heardFrom = vc.heard.length;
    await vc.until(() => vc.heard.length - heardFrom >= 15, "300 ms of the answer", 10_000);
    vc.send({ type: "response.cancel", event_id: "cli_cancel" });
    vc.send({ type: "output_audio_buffer.clear", event_id: "cli_clear" });
    const cleared = await vc.waitEvent("output_audio_buffer.cleared", { from });
    expect(cleared.event.response_id).toBe(responseId);
    expect(await up.waitFor("response.cancel")).toEqual({ type: "response.cancel", event_id: "cli_cancel" });
    const truncate = await up.waitFor("conversation.item.truncate");
    expect(truncate).toMatchObject({ item_id: itemId, content_index: 0 });
    // The clear is the transceiver's to honour, not the upstream's.
    expect(up.received.map((e) => e.type)).not.toContain("output_audio_buffer.clear");
    vc.send({ type: "input_audio_buffer.clear", event_id: "cli_rt" });
    await up.waitFor("input_audio_buffer.clear");
    const heard = vc.heard.length - heardFrom;
    expect(Math.abs((truncate.audio_end_ms as number) - heard * 20)).toBeLessThanOrEqual(40);
    expect(eventTypes(vc, from)).not.toContain("output_audio_buffer.stopped");
  });

  it("an upstream that sends a 10 s answer at once: all of it is played, paced, none dropped", async () => {
    const c = await call();
    const heardFrom = c.vc.heard.length;
    const out = await answerHeard(c, 10_000, 600);
    const heard = c.vc.heard.slice(heardFrom);
    // Loopback UDP may lose a packet on a busy machine; the bridge itself sent every frame (below).
    expect(heard.length).toBeGreaterThanOrEqual(498);
    // Paced in real time, not in a burst.
    expect(heard.at(-1)!.at - heard[0]!.at).toBeGreaterThan(9000);
    // The end of it is still the answer's tone (nothing cut, nothing dropped).
    expect(toneLevel(out.subarray(out.length - 48000), 600)).toBeGreaterThan(0.05);
    const info = (await sessions()).find((s) => s.id === c.id)!;
    expect(info.bridge!.output).toMatchObject({ framesSent: 500, bytesDropped: 0, framesCleared: 0 });
  }, 30_000);
});

describe("upstream faults through the whole stack", () => {
  let bystander: Call;
  beforeAll(async () => {
    bystander = await call();
    bystander.vc.startMic();
  }, 30_000);

  /** The bystander still talks both ways after a fault elsewhere. */
  async function bystanderUndisturbed(): Promise<void> {
    await bystander.up.waitAudio(bystander.up.audioBytes + 10 * 960, 10_000);
    const out = await answerHeard(bystander, 300, 800);
    expect(toneLevel(out, 800)).toBeGreaterThan(0.05);
    expect((await sessions()).some((s) => s.id === bystander.id)).toBe(true);
    expect(eventTypes(bystander.vc)).not.toContain("error");
  }

  for (const status of [401, 403, 429, 500, 503])
    it(`an upstream refusing the handshake with ${status}: the edge answers an OpenAI-shaped 503 backend_unavailable, counted`, async () => {
      const before = await metric("bridge_backend_failures_total", { reason: "backend_unavailable" });
      const setup = await metric("sessions_closed_total", { reason: "setup" });
      fixture.mock.refuse = status;
      try {
        const vc = fixture.client();
        const res = await postCall(vc, await clientSecret(SECRET_SESSION));
        expect(res.status).toBe(503);
        expect(res.headers.get("content-type")).toContain("application/json");
        const body = (await res.json()) as Json;
        expect(body).toEqual({
          error: {
            type: "server_error",
            code: "backend_unavailable",
            message: expect.stringContaining(`HTTP ${status}`),
            param: null,
          },
        });
        // The upstream's key is never in what the client sees.
        expect(JSON.stringify(body)).not.toContain(UPSTREAM_KEY);
      } finally {
        fixture.mock.refuse = 0;
      }
      expect(await metric("bridge_backend_failures_total", { reason: "backend_unavailable" })).toBe(
        before + 1,
      );
      expect(await metric("sessions_closed_total", { reason: "setup" })).toBe(setup + 1);
      await bystanderUndisturbed();
    }, 30_000);

  it("after refusals the cluster is still in rotation: the next call is created", async () => {
    const { vc } = await call();
    expect(vc.events[0]!.event.type).toBe("session.created");
  });

  async function expectFault(
    c: Call,
    code: string,
    failuresBefore: number,
    backendBefore: number,
    timeoutMs = 10_000,
  ) {
    const err = await c.vc.waitEvent("error", { timeoutMs });
    expect(err.event).toEqual({
      event_id: expect.stringMatching(/^event_/),
      type: "error",
      error: { type: "server_error", code, message: expect.any(String), param: null, event_id: null },
    });
    await c.vc.channelClosed();
    // A clean end: the session is gone with close reason "backend", counted.
    const deadline = Date.now() + 10_000;
    while ((await sessions()).some((s) => s.id === c.id)) {
      if (Date.now() > deadline) throw new Error("the session did not end");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await metric("bridge_backend_failures_total", { reason: code })).toBe(failuresBefore + 1);
    expect(await metric("sessions_closed_total", { reason: "backend" })).toBe(backendBefore + 1);
    await bystanderUndisturbed();
  }

  const counts = async (code: string) =>
    [
      await metric("bridge_backend_failures_total", { reason: code }),
      await metric("sessions_closed_total", { reason: "backend" }),
    ] as const;

  it("an upstream that drops mid-call is dialled again once (the stack's reconnect); dropping again ends the call: backend_disconnected", async () => {
    const [f, b] = await counts("backend_disconnected");
    const c = await call();
    const again = fixture.mock.next(10_000);
    c.up.ws.terminate();
    const up2 = await again;
    // The new upstream gets the whole current session.
    expect((await up2.waitFor("session.update")).session).toMatchObject({ instructions: "be brief" });
    expect(eventTypes(c.vc)).not.toContain("error");
    up2.ws.terminate();
    await expectFault(c, "backend_disconnected", f, b);
  }, 30_000);

  it("an upstream that sends malformed JSON: backend_protocol_error, upstream closed with 1002, not dialled again", async () => {
    const [f, b] = await counts("backend_protocol_error");
    const c = await call();
    const dialled = fixture.mock.calls.length;
    c.up.send("{ not json");
    await expectFault(c, "backend_protocol_error", f, b);
    expect((await c.up.closed).code).toBe(1002);
    expect(fixture.mock.calls.length).toBe(dialled);
  }, 30_000);

  it("an upstream that sends audio that is not base64: backend_protocol_error, upstream closed with 1002", async () => {
    const [f, b] = await counts("backend_protocol_error");
    const c = await call();
    c.up.send({
      type: "response.output_audio.delta",
      response_id: "resp_x",
      item_id: "item_x",
      output_index: 0,
      content_index: 0,
      delta: "not*base64!",
    });
    await expectFault(c, "backend_protocol_error", f, b);
    expect((await c.up.closed).code).toBe(1002);
  }, 30_000);

  it("an upstream that stops reading: audio beyond the bound is dropped and counted, then backend_stalled and the socket let go", async () => {
    const [f, b] = await counts("backend_stalled");
    const dropped = await metric("bridge_audio_frames_total", { direction: "to_backend_dropped" });
    const c = await call();
    // Ten times real time, so that the kernel's socket buffers (~4 MiB on Linux loopback, a minute
    // of audio at real time) fill in seconds; the bridge forwards whatever the client sends.
    c.vc.startMic(10);
    await c.up.waitAudio(20 * 960, 10_000);
    c.up.stopReading();
    // Polled with a deadline: the frames dropped for it show in /metrics while the call is up.
    const deadline = Date.now() + 60_000;
    while ((await metric("bridge_audio_frames_total", { direction: "to_backend_dropped" })) === dropped) {
      if (Date.now() > deadline) throw new Error("no audio was dropped for the stalled upstream");
      await new Promise((r) => setTimeout(r, 200));
    }
    const live = (await sessions()).find((s) => s.id === c.id)!;
    expect(live.bridge!.link.audioFramesDropped).toBeGreaterThan(0);
    // The bound: 512 KiB waiting in the process (plus the one frame that crossed it).
    expect(live.bridge!.backendBufferedBytes).toBeGreaterThan(256 * 1024);
    expect(live.bridge!.backendBufferedBytes).toBeLessThanOrEqual(512 * 1024 + 2000);
    // The stall timeout (10 s in the stack) runs from the first dropped frame; then the stack's one
    // reconnect is tried, and refused here, so the call ends.
    const reconnects = await metric("bridge_backend_reconnects_total");
    fixture.mock.refuse = 503;
    try {
      await expectFault(c, "backend_stalled", f, b, 30_000);
    } finally {
      fixture.mock.refuse = 0;
    }
    expect(await metric("bridge_backend_reconnects_total")).toBe(reconnects + 1);
    // The stalled socket was let go of (closed with 1011, then dropped when no close came back; a
    // socket that is not read learns of it once it reads again).
    c.up.ws.resume();
    await c.up.closed;
  }, 90_000);
});
