/**
 * The official `openai` package (7.55.0) against `voice-edge stack`: GPT-Live's
 * live.create and live.sessions.hangup, and the Realtime API's calls.create and
 * calls.hangup, with a werift WebRTC client on the other end of each call.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { createVoiceClient, type Json, type VoiceClient } from "../support/voice-client.ts";

const KEY = "sk-voice-edge-dev-key";
let stack: RunningStack;
let openai: OpenAI;
const clients: VoiceClient[] = [];

beforeAll(async () => {
  stack = await startLoopbackStack([await loopbackRegion("eu", 33)]);
  openai = new OpenAI({ apiKey: KEY, baseURL: `${stack.edge!.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stack?.close();
});

const client = () => {
  const c = createVoiceClient();
  clients.push(c);
  return c;
};

/** Resolves when the client's oai-events channel has closed. */
const channelClosed = (c: VoiceClient) =>
  new Promise<void>((resolve) => c.client.channel.stateChanged.subscribe((s) => s === "closed" && resolve()));

describe("GPT-Live with the openai package", () => {
  it("live.create answers the offer; session.started; live.sessions.hangup ends it with session.closed and its usage", async () => {
    const vc = client();
    const live = await openai.live.create({
      session: { model: "gpt-live-1" },
      transport: { type: "webrtc", sdp: await vc.offer() },
    });
    expect(live.transport.type).toBe("webrtc");
    await vc.answer(live.transport.sdp);
    await vc.ready();
    const started = (await vc.waitEvent("session.started")).event;
    expect(started.session as Json).toMatchObject({ model: "gpt-live-1", status: "active" });
    const closed = channelClosed(vc);
    await openai.live.sessions.hangup(live.session.id);
    const end = (await vc.waitEvent("session.closed")).event;
    expect(end.reason).toBe("close_requested");
    expect((end.usage as { seconds: number }).seconds).toBeGreaterThan(0);
    await closed;
    // The session is gone: a second hangup is a 404 in OpenAI's shape.
    const again = await openai.live.sessions.hangup(live.session.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(OpenAI.NotFoundError);
    expect((again as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("session_not_found");
  });

  it("refuses a bad offer with an OpenAI-shaped 400 the SDK raises", async () => {
    const err = await openai.live
      .create({ session: { model: "gpt-live-1" }, transport: { type: "webrtc", sdp: "v=0\r\n" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("transport.sdp");
  });
});

describe("Realtime calls with the openai package", () => {
  it("calls.create answers the SDP; calls.hangup reaches the client at once", async () => {
    const vc = client();
    const res = await openai.realtime.calls.create({ sdp: await vc.offer(), session: { type: "realtime" } });
    expect(res.status).toBe(201);
    const callId = res.headers.get("location")!.split("/").at(-1)!;
    await vc.answer(await res.text());
    await vc.ready();
    await vc.waitEvent("session.created");
    const closed = channelClosed(vc);
    await openai.realtime.calls.hangup(callId);
    await closed;
  });
});
