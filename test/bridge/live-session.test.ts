/**
 * A worker in bridge mode with a GPT-Live WebSocket upstream (the mock in
 * test/support/live-mock.ts): a werift voice client behind a real relay on a
 * Live session (`type: "live"`), session.start upstream, audio both ways
 * checked by content, Live's events both ways, the goodbye each way, and the
 * upstream's faults.
 */
import { describe, expect, it } from "vitest";
import { type LiveCall, type LiveMock, startLiveMock } from "../support/live-mock.ts";
import { waitUntil } from "../support/relay-harness.ts";
import {
  expectLiveSpeech660,
  expectMidCallFault,
  expectSessionStart,
  expectToneUpstream,
  expectUnavailable,
} from "../support/upstream-checks.ts";
import { UPSTREAM_KEY, upstreamWorkerForFile } from "../support/upstream-worker.ts";
import { eventTypes, type Json } from "../support/voice-client.ts";

const LIVE = { type: "live", model: "gpt-live-1" };
const fixture = upstreamWorkerForFile<LiveCall, LiveMock>({
  cluster: 7,
  startMock: startLiveMock,
  model: "gpt-live-1",
  greeting: "session.started",
});
const call = (session: Json = {}) => fixture.call({ ...LIVE, ...session });

const gone = async (id: string) => !(await fixture.worker.list()).some((s) => s.id === id);

describe("GPT-Live upstream through a worker", () => {
  it("starts the session upstream, carries audio and Live's events both ways, and says goodbye with session.close", async () => {
    const { vc, id, up } = await call({ instructions: "be brief", audio: { output: { voice: "cedar" } } });
    // Dialled at the URL's path, no model in it, with the key from the environment.
    expect(up.url).toBe("/v1/live/sessions");
    expect(up.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    // session.start first, with the create request's config and PCM16 24 kHz.
    expectSessionStart(up, { instructions: "be brief", voice: "cedar" });
    // The client's session.started is the transceiver's (one), with the create request's config.
    const started = vc.events.filter((e) => e.event.type === "session.started");
    expect(started).toHaveLength(1);
    expect(started[0]!.event.session).toMatchObject({
      type: "live",
      model: "gpt-live-1",
      instructions: "be brief",
    });

    // Caller -> model: a 440 Hz tone arrives as session.input_audio.append, PCM16 at 24 kHz.
    await expectToneUpstream(vc, up);

    // Model -> caller: 1 s of 660 Hz sent at once as session.output_audio.delta, played paced as Opus.
    const from = await expectLiveSpeech660(vc, up, 5000);
    expect(eventTypes(vc)).not.toContain("session.output_audio.delta");

    // Live's client events go upstream as sent, and its answers come back.
    vc.send({ type: "session.instructions.append", event_id: "c_1", instructions: "mention the weather" });
    expect(await up.waitFor("session.instructions.append")).toEqual({
      type: "session.instructions.append",
      event_id: "c_1",
      instructions: "mention the weather",
    });
    const appended = await vc.waitEvent("session.instructions.appended", { from });
    expect(appended.event.client_event_id).toBe("c_1");
    // The bridge's own playout events stay on our side.
    expect(up.received.map((e) => String(e.type)).filter((t) => t.startsWith("output_audio_buffer"))).toEqual(
      [],
    );

    // The client's goodbye: session.close upstream, session.closed to the client, the session ends.
    vc.send({ type: "session.close" });
    const closed = await vc.waitEvent("session.closed", { from });
    expect(closed.event).toMatchObject({ reason: "close_requested", session: { model: "gpt-live-1" } });
    expect(await up.waitFor("session.close")).toEqual({ type: "session.close" });
    expect((await up.closed).code).toBe(1000);
    await vc
      .until(() => false || vc.client.channel.readyState !== "open", "the channel to close", 5000)
      .catch(() => undefined);
    expect(await gone(id)).toBe(true);
    expect(eventTypes(vc)).not.toContain("error");
  });

  it("the upstream's session.closed ends the call cleanly with its reason", async () => {
    const { vc, id, up } = await call();
    const from = vc.events.length;
    up.end("expired");
    const closed = await vc.waitEvent("session.closed", { from });
    expect(closed.event.reason).toBe("expired");
    await vc.channelClosed();
    expect(await gone(id)).toBe(true);
    expect(eventTypes(vc).slice(from)).not.toContain("error");
    // The upstream closed the session itself: no session.close of ours after its session.closed.
    expect(up.received.map((e) => e.type)).not.toContain("session.close");
  });

  it("an upstream that never answers session.start fails session creation within the connect timeout", async () => {
    fixture.mock.holdStart = true;
    try {
      const vc = fixture.client();
      const upstream = fixture.mock.next();
      const created = fixture.worker.createSession({ sdp: await vc.offer(), session: LIVE });
      await expectUnavailable(created, "no session.started within");
      // Given up on: the socket is dropped.
      expect((await (await upstream).closed).code).toBe(1006);
    } finally {
      fixture.mock.holdStart = false;
    }
  });

  it("what the upstream says right after session.started reaches the client; a fault then ends the session, counted", async () => {
    const info = { type: "info", event_id: "ev_i", code: "data_channel_permissions", message: "all" };
    fixture.mock.afterStart = [JSON.stringify(info)];
    try {
      const { vc } = await call();
      expect((await vc.waitEvent("info")).event).toEqual(info);
    } finally {
      fixture.mock.afterStart = [];
    }
    const before = (await fixture.worker.stats()).bridge!.backendFailures.backend_protocol_error ?? 0;
    fixture.mock.afterStart = ["{ junk"];
    try {
      const vc = fixture.client();
      const upstream = fixture.mock.next();
      const created = await fixture.worker.createSession({ sdp: await vc.offer(), session: LIVE });
      expect((await (await upstream).closed).code).toBe(1002);
      await waitUntil(() => gone(created.id), 5000, "the session to end");
      expect((await fixture.worker.stats()).bridge!.backendFailures.backend_protocol_error).toBe(before + 1);
    } finally {
      fixture.mock.afterStart = [];
    }
  });

  it("an upstream that refuses the WebSocket handshake fails session creation with a 503 naming the status", async () => {
    fixture.mock.refuse = 403;
    const vc = fixture.client();
    try {
      await expectUnavailable(
        fixture.worker.createSession({ sdp: await vc.offer(), session: LIVE }),
        "HTTP 403",
      );
    } finally {
      fixture.mock.refuse = 0;
    }
  });

  it("an upstream that answers session.start with an error fails session creation with a 503 naming it", async () => {
    const before = (await fixture.worker.stats()).bridge!.backendFailures.backend_unavailable ?? 0;
    fixture.mock.rejectStart = "invalid_model";
    const vc = fixture.client();
    try {
      const upstream = fixture.mock.next();
      await expectUnavailable(
        fixture.worker.createSession({ sdp: await vc.offer(), session: LIVE }),
        "invalid_model",
      );
      expect((await upstream).received.map((e) => e.type)).toEqual(["session.start"]);
      expect((await fixture.worker.stats()).bridge!.backendFailures.backend_unavailable).toBe(before + 1);
    } finally {
      fixture.mock.rejectStart = "";
    }
  });

  const faults: [string, (up: LiveCall) => void, string][] = [
    ["drops the connection", (up) => up.ws.terminate(), "backend_disconnected"],
    [
      "closes the socket without session.closed, even with 1000",
      (up) => up.ws.close(1000),
      "backend_disconnected",
    ],
    ["sends malformed JSON", (up) => up.send("{ not json"), "backend_protocol_error"],
    [
      "sends audio that is not base64",
      (up) => up.send({ type: "session.output_audio.delta", delta: "%%" }),
      "backend_protocol_error",
    ],
  ];
  for (const [what, act, code] of faults)
    it(`an upstream that ${what} mid-call: an error event, session.closed (connection_lost), the channel closes, the session ends, counted`, () =>
      expectMidCallFault({
        host: fixture.worker,
        code,
        call: () => call(),
        act,
        // Live's last word before the channel goes: the connection was lost.
        afterError: async (vc, from) =>
          expect((await vc.waitEvent("session.closed", { from })).event.reason).toBe("connection_lost"),
      }));
});
