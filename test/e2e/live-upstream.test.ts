/**
 * The GPT-Live WebSocket upstream through the whole stack: `voice-edge stack`
 * (edge in Miniflare, relays, a transceiver host) with the topology's
 * "backend" set to the mock Live server of test/support/live-mock.ts, and a
 * werift voice client whose session an application server creates with the
 * official `openai` package (live.create) and ends with live.sessions.hangup.
 * (Worker-level detail: test/bridge/live-session.test.ts.)
 */
import OpenAI from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { type LiveCall, type LiveMock, startLiveMock } from "../support/live-mock.ts";
import { expectLiveSpeech660, expectSessionStart, expectToneUpstream } from "../support/upstream-checks.ts";
import { DEV_KEY, upstreamStackForFile } from "../support/upstream-stack.ts";

/** The upstream's key, in a variable the backend URL names (key_env): never the client's. */
const UPSTREAM_KEY = "sk-live-upstream-test-not-a-real-key";
const fixture = upstreamStackForFile<LiveCall, LiveMock>({
  cluster: 36,
  workers: 1,
  startMock: startLiveMock,
  backend: (port) => `live+ws://127.0.0.1:${port}/v1/live/sessions`,
  upstreamKey: { env: "VOICE_EDGE_TEST_LIVE_KEY", key: UPSTREAM_KEY },
});
let openai: OpenAI;

beforeAll(() => {
  openai = new OpenAI({ apiKey: DEV_KEY, baseURL: `${fixture.stack.edge!.url}/v1`, maxRetries: 0 });
});

describe("GPT-Live upstream through the stack", () => {
  it("live.create starts the session upstream; audio both ways; live.sessions.hangup says goodbye both ways", async () => {
    const vc = fixture.client();
    const upstream = fixture.mock.next(10_000);
    const live = await openai.live.create({
      session: { model: "gpt-live-1", instructions: "be brief", audio: { output: { voice: "marin" } } },
      transport: { type: "webrtc", sdp: await vc.offer() },
    });
    const up = await upstream;
    await vc.answer(live.transport.sdp);
    await vc.ready();
    await vc.waitEvent("session.started", { timeoutMs: 10_000 });
    // The upstream's key from the URL's variable; the create request's config in session.start.
    expect(up.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expectSessionStart(up, { instructions: "be brief", voice: "marin" });

    await expectToneUpstream(vc, up);
    const from = await expectLiveSpeech660(vc, up, 10_000);

    // The application's hangup: session.close upstream, session.closed to the caller.
    const closed = vc.channelClosed();
    await openai.live.sessions.hangup(live.session.id);
    expect((await vc.waitEvent("session.closed", { from })).event.reason).toBe("close_requested");
    expect(await up.waitFor("session.close")).toEqual({ type: "session.close" });
    expect((await up.closed).code).toBe(1000);
    await closed;
    expect(vc.events.map((e) => e.event.type)).not.toContain("error");
  });

  it("an upstream refusing the handshake: live.create fails with an OpenAI-shaped 503 backend_unavailable", async () => {
    fixture.mock.refuse = 401;
    try {
      const vc = fixture.client();
      const err = await openai.live
        .create({ session: { model: "gpt-live-1" }, transport: { type: "webrtc", sdp: await vc.offer() } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const api = err as InstanceType<typeof OpenAI.APIError>;
      expect(api.status).toBe(503);
      expect(api.code).toBe("backend_unavailable");
      expect(api.message).toContain("HTTP 401");
      expect(api.message).not.toContain(UPSTREAM_KEY);
    } finally {
      fixture.mock.refuse = 0;
    }
  });
});
