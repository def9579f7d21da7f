/** `voice-edge stack` bridges calls to the demo voice agent by default (npm start: talk and hear it). */
import { afterAll, expect, it } from "vitest";
import type { RunningStack } from "../../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../support/loopback-region.ts";
import { speechFrames } from "../support/speech.ts";
import { createVoiceClient, type Json, silence, type VoiceClient } from "../support/voice-client.ts";

let stack: RunningStack | undefined;
let vc: VoiceClient | undefined;
afterAll(async () => {
  await vc?.close();
  await stack?.close();
});

it("starts the demo agent (Silero VAD) and every region's transceiver answers a caller's speech with it, whatever the model", async () => {
  stack = await startLoopbackStack([await loopbackRegion("eu", 31)]);
  expect(stack.backend?.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/agent$/);
  vc = createVoiceClient();
  const res = await fetch(`${stack.transceivers[0]!.url}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${stack.token}` },
    body: JSON.stringify({
      sdp: await vc.offer(),
      session: {
        model: "gpt-realtime",
        audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 200 } } },
      },
    }),
  });
  expect(res.status).toBe(201);
  await vc.answer(((await res.json()) as { sdp: string }).sdp);
  await vc.ready();
  expect(((await vc.waitEvent("session.created")).event.session as Json).model).toBe("gpt-realtime");
  vc.startMic();
  await vc.say(speechFrames("hello there, can you hear me"));
  await vc.say(silence(400), false);
  await vc.waitEvent("output_audio_buffer.started");
  expect(stack.backend!.sessions()).toBe(1);
  expect(stack.backend!.vad).toBe("silero");
});

it("its edge reaches the transceivers with the stack's session API token; nobody else does", async () => {
  if (!stack) throw new Error("the stack did not start");
  const tx = stack.transceivers[0]!.url;
  expect((await fetch(`${tx}/v1/sessions`)).status).toBe(401);
  const dev = await fetch(`${tx}/v1/sessions`, {
    headers: { authorization: "Bearer voice-edge-dev-transceiver-token" },
  });
  expect(dev.status).toBe(401);
  const client = createVoiceClient();
  try {
    const res = await fetch(`${stack.edge!.url}/v1/realtime/calls`, {
      method: "POST",
      headers: { "content-type": "application/sdp", authorization: "Bearer sk-voice-edge-dev-key" },
      body: await client.offer(),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-voice-edge-cluster")).toBe("31");
  } finally {
    await client.close();
  }
});
