/**
 * A worker in bridge mode with an OpenAI-Realtime-compatible upstream (the
 * mock in test/support): a werift voice client behind a real relay, audio both
 * ways checked by content, the WebRTC-only output_audio_buffer events,
 * barge-in with truncation at what was heard, and the upstream's faults.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionHost } from "../../media/transceiver/session-host.ts";
import { type MockCall, type RealtimeMock, startRealtimeMock } from "../support/realtime-mock.ts";
import {
  expectHeard660,
  expectMidCallFault,
  expectToneUpstream,
  expectUnavailable,
} from "../support/upstream-checks.ts";
import { UPSTREAM_KEY, upstreamWorkerForFile } from "../support/upstream-worker.ts";
import { eventTypes, type Json } from "../support/voice-client.ts";

const fixture = upstreamWorkerForFile<MockCall, RealtimeMock>({
  cluster: 6,
  startMock: startRealtimeMock,
  model: "default",
  greeting: "session.created",
});
/** The same worker, configured to reconnect once. */
let retrying: SessionHost;

beforeAll(async () => {
  retrying = new SessionHost({
    ...fixture.worker.options,
    index: 1,
    bridge: { ...fixture.worker.options.bridge!, reconnect: 1 },
  });
  await retrying.start();
});

afterAll(async () => {
  await retrying?.close();
});

const call = (session?: Json, host?: SessionHost) => fixture.call(session, host);

describe("realtime upstream through a worker", () => {
  it("configures the upstream, carries audio both ways, and frames the answer with output_audio_buffer events", async () => {
    const { vc, id, up } = await call({ instructions: "be brief", audio: { output: { voice: "marin" } } });
    // Connected with the key from the environment, to the URL's path and model.
    expect(up.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(up.url).toBe("/v1/realtime?model=mock-realtime");
    const update = await up.waitFor("session.update");
    expect(update.session).toMatchObject({
      instructions: "be brief",
      audio: { input: { format: { type: "audio/pcm", rate: 24000 } }, output: { voice: "marin" } },
    });
    expect(update.session).not.toHaveProperty("id");
    // The upstream's own session.created is not the client's: the transceiver's is.
    expect(vc.events.filter((e) => e.event.type === "session.created")).toHaveLength(1);

    // Caller -> model: a 440 Hz tone arrives as input_audio_buffer.append, PCM16 at 24 kHz.
    await expectToneUpstream(vc, up);

    // Model -> caller: 1 s of 660 Hz, sent upstream at once, played paced as Opus.
    const from = vc.events.length;
    const heardFrom = vc.heard.length;
    const { responseId } = up.respond({ ms: 1000, freq: 660 });
    const started = await vc.waitEvent("output_audio_buffer.started", { from });
    expect(started.event.response_id).toBe(responseId);
    const stopped = await vc.waitEvent("output_audio_buffer.stopped", { from, timeoutMs: 4000 });
    expect(stopped.event.response_id).toBe(responseId);
    expectHeard660(vc, heardFrom);
    // The data channel carries the model's events, but no audio deltas.
    const seen = eventTypes(vc).slice(from);
    expect(seen).toEqual(
      expect.arrayContaining(["response.created", "response.output_item.added", "response.done"]),
    );
    expect(seen).not.toContain("response.output_audio.delta");
    // Client events go upstream as sent.
    vc.send({ type: "conversation.item.create", event_id: "c_1", item: { type: "message", role: "user" } });
    const item = await up.waitFor("conversation.item.create");
    expect(item).toEqual({
      type: "conversation.item.create",
      event_id: "c_1",
      item: { type: "message", role: "user" },
    });
    // The bridge's own playout events stay on our side.
    expect(up.received.map((e) => e.type)).not.toContain("output_audio_buffer.started");
    expect((await fixture.worker.list()).find((s) => s.id === id)!.bridge!.backend).not.toContain(
      UPSTREAM_KEY,
    );
  });

  it("barge-in: speech_started while the model speaks stops playout and truncates at what was played", async () => {
    const { vc, up } = await call();
    vc.startMic();
    const from = vc.events.length;
    const { itemId, responseId } = up.respond({ ms: 5000, freq: 660, beta: true });
    await vc.waitEvent("output_audio_buffer.started", { from });
    const heardFrom = vc.heard.length;
    await vc.until(() => vc.heard.length - heardFrom >= 15, "300 ms of the answer");
    up.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 1200, item_id: "item_in_1" });
    const cleared = await vc.waitEvent("output_audio_buffer.cleared", { from });
    expect(cleared.event.response_id).toBe(responseId);
    const speech = vc.events.findIndex(
      (e, i) => i >= from && e.event.type === "input_audio_buffer.speech_started",
    );
    expect(speech).toBeGreaterThanOrEqual(0);
    expect(speech).toBeLessThan(vc.events.indexOf(cleared));
    const truncate = await up.waitFor("conversation.item.truncate");
    expect(truncate).toMatchObject({ item_id: itemId, content_index: 0 });
    // audio_end_ms is what left for the client: 20 ms per frame played of this response.
    const playedAtClear = vc.heard.slice(heardFrom).filter((h) => h.at <= cleared.at).length;
    expect(truncate.audio_end_ms).toBeGreaterThanOrEqual(300);
    expect(Math.abs((truncate.audio_end_ms as number) - playedAtClear * 20)).toBeLessThanOrEqual(60);
    await vc.waitEvent("conversation.item.truncated", { from });
    // Playout stopped: of the 5 s answer, nothing more after the clear (a packet in flight at most).
    const heardAtClear = vc.heard.length;
    vc.send({ type: "response.cancel" }); // a round trip through the channel to let stragglers land
    await up.waitFor("response.cancel");
    expect(vc.heard.length - heardAtClear).toBeLessThanOrEqual(2);
    expect(eventTypes(vc)).not.toContain("output_audio_buffer.stopped");
  });

  it("the client's output_audio_buffer.clear stops playout and truncates too", async () => {
    const { vc, up } = await call();
    const from = vc.events.length;
    const { itemId } = up.respond({ ms: 3000, freq: 550 });
    await vc.waitEvent("output_audio_buffer.started", { from });
    vc.send({ type: "response.cancel" });
    vc.send({ type: "output_audio_buffer.clear", event_id: "clr_1" });
    await vc.waitEvent("output_audio_buffer.cleared", { from });
    expect(await up.waitFor("response.cancel")).toEqual({ type: "response.cancel" });
    expect(await up.waitFor("conversation.item.truncate")).toMatchObject({ item_id: itemId });
    expect(up.received.map((e) => e.type)).not.toContain("output_audio_buffer.clear");
  });

  it("an upstream that refuses the handshake fails session creation with a 503 naming the status", async () => {
    fixture.mock.refuse = 401;
    const vc = fixture.client();
    try {
      await expectUnavailable(fixture.worker.createSession({ sdp: await vc.offer() }), "HTTP 401");
    } finally {
      fixture.mock.refuse = 0;
    }
  });

  const faults: [string, (up: MockCall) => void, string][] = [
    ["drops the connection", (up) => up.ws.terminate(), "backend_disconnected"],
    ["closes the socket, even with 1000", (up) => up.ws.close(1000, "bye"), "backend_disconnected"],
    ["sends malformed JSON", (up) => up.send("{ not json"), "backend_protocol_error"],
    [
      "sends audio that is not base64",
      (up) =>
        up.send({
          type: "response.output_audio.delta",
          response_id: "r",
          item_id: "i",
          content_index: 0,
          delta: "%%",
        }),
      "backend_protocol_error",
    ],
  ];
  for (const [what, act, code] of faults)
    it(`an upstream that ${what} mid-call: an error event, the channel closes, the session ends, counted`, () =>
      expectMidCallFault({ host: fixture.worker, code, call: () => call(), act }));

  it("with --backend-reconnect, a dropped upstream is dialled again with the current session and the call goes on", async () => {
    const { vc, id, up } = await call({ instructions: "first" }, retrying);
    vc.send({ type: "session.update", session: { instructions: "second" } });
    await up.waitFor("session.update", (e) => (e.session as Json).instructions === "second");
    const again = fixture.mock.next();
    up.ws.terminate();
    const up2 = await again;
    const update = await up2.waitFor("session.update");
    expect(update.session).toMatchObject({ instructions: "second" });
    // The new upstream's answer is played.
    const from = vc.events.length;
    const { responseId } = up2.respond({ ms: 200, freq: 700 });
    expect((await vc.waitEvent("output_audio_buffer.started", { from })).event.response_id).toBe(responseId);
    expect(eventTypes(vc)).not.toContain("error");
    expect((await retrying.list()).find((s) => s.id === id)!.bridge).toMatchObject({
      reconnects: 1,
      state: "open",
    });
  });
});
