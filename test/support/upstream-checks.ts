/**
 * What the worker-level upstream tests check whatever the upstream's protocol
 * (Realtime, GPT-Live): a tone from the caller found upstream, a tone from the
 * upstream heard paced by the caller, and for every fault mid-call the
 * client's `error`, the channel's close, the session gone, the failure
 * counted, a protocol fault closing the upstream with 1002.
 */
import { expect } from "vitest";
import { BackendError } from "../../media/transceiver/bridge/backends.ts";
import type { SessionHost } from "../../media/transceiver/session-host.ts";
import type { LiveCall } from "./live-mock.ts";
import { UPSTREAM_RATE, type UpstreamCall } from "./mock-upstream.ts";
import { expectTone, type Heard, silence, tone, toneLevel, type VoiceClient } from "./voice-client.ts";

/** PCM16 bytes as samples (the upstream's input audio, say). */
export const pcm16 = (b: Buffer): Int16Array => new Int16Array(b.buffer, b.byteOffset, b.length >> 1);

/**
 * The caller says `ms` of a `freq` Hz tone (microphone on, a little silence
 * after) until the upstream has as much audio: resolves with the upstream's
 * input so far, as samples at UPSTREAM_RATE.
 */
export async function sayToUpstream(
  vc: VoiceClient,
  up: UpstreamCall,
  o: { ms: number; freq: number; timeoutMs?: number },
): Promise<Int16Array> {
  vc.startMic();
  await vc.say(tone(o.ms, o.freq));
  await vc.say(silence(100), false);
  await up.waitAudio((UPSTREAM_RATE * 2 * o.ms) / 1000, o.timeoutMs);
  return pcm16(up.audio());
}

/** The caller says 600 ms of 440 Hz (its mic started): the upstream gets it as PCM16 24 kHz. */
export async function expectToneUpstream(vc: VoiceClient, up: UpstreamCall): Promise<void> {
  expectTone(await sayToUpstream(vc, up, { ms: 600, freq: 440 }), 440, 1000, UPSTREAM_RATE);
}

/** The packets heard since `from` are at least 1 s of 660 Hz, paced (not a burst). */
export function expectHeard660(vc: VoiceClient, from: number): Heard[] {
  const heard = vc.heard.slice(from);
  expect(heard.length).toBeGreaterThanOrEqual(50);
  // Paced: 50 frames take about a second to arrive.
  expect(heard.at(-1)!.at - heard[0]!.at).toBeGreaterThan(800);
  const out = vc.decode(heard);
  expect(toneLevel(out, 660)).toBeGreaterThan(10 * toneLevel(out, 440));
  return heard;
}

/** A Live upstream's first event: session.start with the create request's config and PCM16 24 kHz out. */
export function expectSessionStart(up: LiveCall, o: { instructions: string; voice: string }): void {
  expect(up.received[0]).toEqual({
    type: "session.start",
    session: {
      model: "gpt-live-1",
      instructions: o.instructions,
      audio: { output: { voice: o.voice }, format: { type: "audio/pcm", rate: 24000 } },
    },
  });
}

/**
 * A Live upstream speaks 1 s of 660 Hz at once, with its transcript: the
 * caller gets the transcript and hears the audio paced. Resolves with the
 * caller's event index from before it spoke.
 */
export async function expectLiveSpeech660(vc: VoiceClient, up: LiveCall, timeoutMs: number): Promise<number> {
  const from = vc.events.length;
  const heardFrom = vc.heard.length;
  up.speak({ ms: 1000, freq: 660 });
  await vc.waitEvent("session.output_transcript.delta", { from });
  await vc.until(() => vc.heard.length - heardFrom >= 50, "1 s of the model's audio", timeoutMs);
  expectHeard660(vc, heardFrom);
  return from;
}

export async function expectMidCallFault<U extends UpstreamCall>(o: {
  host: SessionHost;
  code: string;
  call(): Promise<{ vc: VoiceClient; id: string; up: U }>;
  act(up: U): void;
  /** More to check once the error has come (from: the first event index after the fault). */
  afterError?(vc: VoiceClient, from: number): Promise<void>;
}): Promise<void> {
  const before = (await o.host.stats()).bridge!.backendFailures[o.code] ?? 0;
  const { vc, id, up } = await o.call();
  const from = vc.events.length;
  o.act(up);
  const err = await vc.waitEvent("error", { from });
  expect(err.event.error).toMatchObject({ type: "server_error", code: o.code });
  await o.afterError?.(vc, from);
  await vc.channelClosed();
  // The session ended in the same tick that closed the channel.
  expect((await o.host.list()).some((s) => s.id === id)).toBe(false);
  expect((await o.host.stats()).bridge!.backendFailures[o.code]).toBe(before + 1);
  if (o.code === "backend_protocol_error") expect((await up.closed).code).toBe(1002);
}

/** Session creation that must fail: its BackendError (503, naming `what`). */
export async function expectUnavailable(created: Promise<unknown>, what: string): Promise<BackendError> {
  const err = await created.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  expect((err as BackendError).status).toBe(503);
  expect((err as BackendError).code).toBe("backend_unavailable");
  expect((err as BackendError).message).toContain(what);
  return err as BackendError;
}
