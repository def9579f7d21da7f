import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentOutput, type BargeIn, ParrotAgent, turnDetection } from "../../media/backend/agent.ts";
import { EnergyVad, levelDbfs, thresholdDbfs } from "../../media/backend/vad/energy.ts";
import { SileroVad } from "../../media/backend/vad/silero.ts";
import { SileroModel } from "../../media/backend/vad/silero-model.ts";
import { SileroScheduler } from "../../media/backend/vad/silero-scheduler.ts";
import { scene, speak } from "../support/speech.ts";

type Json = Record<string, unknown>;

const FRAME = 960; // 20 ms at 24 kHz
function tone(ms: number, amp = 0.3, freq = 300): Buffer {
  const n = (24 * ms) | 0;
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++)
    b.writeInt16LE(Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * i) / 24000)), i * 2);
  return b;
}
const quiet = (ms: number) => Buffer.alloc(48 * ms);
/** Feeds audio in 20 ms frames, as the transceiver sends it. */
function feed<T>(push: (f: Buffer) => T[], audio: Buffer): T[] {
  const out: T[] = [];
  for (let i = 0; i < audio.length; i += FRAME) out.push(...push(audio.subarray(i, i + FRAME)));
  return out;
}
const types = (outs: AgentOutput[]) =>
  outs.map((o) => ("event" in o ? (o.event.type as string) : `audio:${o.audio.length / 48}ms`));
/** What the agent sends for one turn it answers (as `types` names it), its audio in the middle. */
const answeredTurn = (audio: string) => [
  "input_audio_buffer.speech_started",
  "input_audio_buffer.speech_stopped",
  "input_audio_buffer.committed",
  "conversation.item.added",
  "response.created",
  "response.output_item.added",
  "conversation.item.added",
  audio,
  "response.output_audio.done",
  "response.output_item.done",
  "response.done",
];

describe("energy VAD (server_vad settings)", () => {
  it("reports turns with Realtime-style timestamps and keeps the prefix padding", () => {
    const vad = new EnergyVad({ prefixPaddingMs: 300, silenceDurationMs: 500, minSpeechMs: 40 });
    const events = feed((f) => vad.push(f), Buffer.concat([quiet(1000), tone(800), quiet(700)]));
    expect(events.map((e) => e.type)).toEqual(["speech_started", "speech_stopped"]);
    const [s, e] = events as [
      Extract<(typeof events)[0], { type: "speech_started" }>,
      Extract<(typeof events)[0], { type: "speech_stopped" }>,
    ];
    expect(s.onsetMs).toBe(1000);
    expect(s.audioStartMs).toBe(700); // onset - prefix padding
    expect(e.audioEndMs).toBe(1800 + 500); // end of speech + silence duration
    expect(e.utterance.length / 48).toBe(300 + 800); // prefix + speech, no trailing silence
  });

  it("ignores a click shorter than min_speech_ms and sound below the threshold", () => {
    const vad = new EnergyVad({ minSpeechMs: 60, threshold: 0.5 });
    expect(feed((f) => vad.push(f), Buffer.concat([quiet(200), tone(40), quiet(200)]))).toEqual([]);
    // -40 dBFS is the threshold at 0.5: a tone at about -50 dBFS is not speech, at -30 it is.
    expect(thresholdDbfs(0.5)).toBe(-40);
    expect(levelDbfs(tone(20, 0.0045))).toBeLessThan(-49);
    expect(feed((f) => vad.push(f), tone(200, 0.0045))).toEqual([]);
    expect(feed((f) => vad.push(f), tone(200, 0.045)).map((e) => e.type)).toEqual(["speech_started"]);
  });

  it("takes audio in any chunking and a session's turn_detection (GA or beta shape)", () => {
    const vad = new EnergyVad({ silenceDurationMs: 200 });
    const audio = Buffer.concat([quiet(100), tone(300), quiet(300)]);
    const events = [...vad.push(audio.subarray(0, 777)), ...vad.push(audio.subarray(777))];
    expect(events.map((e) => e.type)).toEqual(["speech_started", "speech_stopped"]);
    expect(
      turnDetection({ audio: { input: { turn_detection: { threshold: 0.8, silence_duration_ms: 250 } } } })
        .vad,
    ).toMatchObject({ threshold: 0.8, silenceDurationMs: 250 });
    expect(
      turnDetection({ turn_detection: { prefix_padding_ms: 100, create_response: false } }),
    ).toMatchObject({ vad: { prefixPaddingMs: 100 }, createResponse: false });
    expect(turnDetection({ audio: { input: { turn_detection: null } } }).enabled).toBe(false);
  });
});

describe("the parrot agent", () => {
  it("answers a turn by playing it back, with the Realtime events around it", () => {
    const agent = new ParrotAgent({
      audio: { input: { turn_detection: { silence_duration_ms: 200, prefix_padding_ms: 100 } } },
    });
    const outs = feed((f) => agent.onAudio(f), Buffer.concat([quiet(200), tone(400), quiet(300)]));
    expect(types(outs)).toEqual(answeredTurn("audio:500ms"));
    const audio = outs.find((o) => "audio" in o) as { audio: Buffer };
    expect(audio.audio.subarray(100 * 48)).toEqual(tone(400)); // the user's own voice back, after the padding
  });

  it("barge-in: user speech during playback clears the output and reports how much was played", () => {
    const barges: BargeIn[] = [];
    const agent = new ParrotAgent(
      { turn_detection: { silence_duration_ms: 200 } },
      {},
      { onBargeIn: (b) => barges.push(b) },
    );
    const outs = feed((f) => agent.onAudio(f), Buffer.concat([tone(1000), quiet(300)]));
    const rid = (
      outs.find((o) => "event" in o && o.event.type === "response.created") as {
        event: { response: { id: string } };
      }
    ).event.response.id;
    agent.onEvent({ type: "output_audio_buffer.started", response_id: rid });
    const interrupt = feed((f) => agent.onAudio(f), tone(100));
    expect(types(interrupt)).toEqual(["input_audio_buffer.speech_started", "output_audio_buffer.clear"]);
    expect(barges).toHaveLength(1);
    expect(barges[0]!.detectedFrame - barges[0]!.onsetFrame).toBe(1); // min_speech_ms 40 = two frames
    const after = agent.onEvent({ type: "output_audio_buffer.cleared", response_id: rid, played_ms: 420 });
    expect(after).toEqual([
      {
        event: expect.objectContaining({
          type: "conversation.item.truncated",
          content_index: 0,
          audio_end_ms: 420,
        }),
      },
    ]);
    // Once it has stopped, more speech is a new turn, not another barge-in.
    expect(types(feed((f) => agent.onAudio(f), tone(100)))).not.toContain("output_audio_buffer.clear");
  });

  it("does not interrupt when interrupt_response is false, and stops tracking playback once stopped", () => {
    const agent = new ParrotAgent({
      turn_detection: { silence_duration_ms: 200, interrupt_response: false },
    });
    feed((f) => agent.onAudio(f), Buffer.concat([tone(300), quiet(300)]));
    expect(types(feed((f) => agent.onAudio(f), Buffer.concat([quiet(100), tone(100)])))).toEqual([
      "input_audio_buffer.speech_started",
    ]);
  });

  it("without turn detection, commits and answers on input_audio_buffer.commit; response.create repeats", () => {
    const agent = new ParrotAgent({ turn_detection: null });
    expect(feed((f) => agent.onAudio(f), tone(200))).toEqual([]);
    const outs = agent.onEvent({ type: "input_audio_buffer.commit" });
    expect(types(outs)).toContain("audio:200ms");
    expect(types(agent.onEvent({ type: "response.create" }))).toContain("audio:200ms");
    expect(
      agent.onEvent({
        type: "conversation.item.truncate",
        item_id: "i1",
        content_index: 0,
        audio_end_ms: 640,
      }),
    ).toEqual([
      { event: { type: "conversation.item.truncated", item_id: "i1", content_index: 0, audio_end_ms: 640 } },
    ]);
    // A session.update turning VAD back on takes effect.
    agent.onEvent({ type: "session.update", session: { turn_detection: { silence_duration_ms: 200 } } });
    expect(agent.turnDetection.enabled).toBe(true);
  });
});

describe("the parrot agent with the Silero VAD", () => {
  let model: SileroModel;
  beforeAll(async () => {
    model = await SileroModel.load();
  });
  afterAll(async () => {
    await model?.close();
  });

  it("answers a spoken turn, follows session.update, and barges in on speech over its answer", async () => {
    const scheduler = new SileroScheduler(model);
    const barges: BargeIn[] = [];
    const agent = new ParrotAgent(
      { audio: { input: { turn_detection: { silence_duration_ms: 400, prefix_padding_ms: 200 } } } },
      {},
      { onBargeIn: (b) => barges.push(b) },
      (cfg) => new SileroVad(cfg),
    );
    expect(agent.vad.kind).toBe("silero");
    const outs: AgentOutput[] = [];
    scheduler.attach(agent.vad as SileroVad, (events) => outs.push(...agent.onVadEvents(events)));
    const say = async (pcm: Buffer) => {
      for (let i = 0; i < pcm.length; i += FRAME) {
        outs.push(...agent.onAudio(pcm.subarray(i, i + FRAME)));
        await scheduler.flush();
      }
    };
    const s = scene([speak("Could you book a table for two at eight?")], { snrDb: 20, gapMs: 1000 });
    await say(s.pcm);
    expect(types(outs).map((t) => t.replace(/^audio:.*/, "audio"))).toEqual(answeredTurn("audio"));
    const started = (outs[0] as { event: Json }).event;
    const stopped = (outs[1] as { event: Json }).event;
    const turn = s.turns[0]!;
    expect(Math.abs((started.audio_start_ms as number) + 192 - turn.startMs)).toBeLessThanOrEqual(150);
    expect((stopped.audio_end_ms as number) - 400 - turn.endMs).toBeLessThanOrEqual(400);
    const answer = outs.find((o) => "audio" in o) as { audio: Buffer };
    // The answer is the turn itself: from audio_start_ms to the end of speech (400 ms of silence
    // is 13 whole windows, 416 ms).
    expect(answer.audio.length / 48).toBe(
      (stopped.audio_end_ms as number) - 416 - (started.audio_start_ms as number),
    );

    // session.update: a longer silence is needed to end the turn.
    agent.onEvent({ type: "session.update", session: { turn_detection: { silence_duration_ms: 900 } } });
    expect(agent.vad.config.silenceDurationMs).toBe(900);
    const rid = (
      outs.find((o) => "event" in o && o.event.type === "response.created") as {
        event: { response: { id: string } };
      }
    ).event.response.id;
    agent.onEvent({ type: "output_audio_buffer.started", response_id: rid });
    outs.length = 0;
    await say(scene([speak("Wait, stop.")], { snrDb: 20, gapMs: 1000 }).pcm);
    expect(types(outs).slice(0, 2)).toEqual([
      "input_audio_buffer.speech_started",
      "output_audio_buffer.clear",
    ]);
    expect(barges).toHaveLength(1);
    expect(barges[0]!.detectedFrame).toBeGreaterThanOrEqual(barges[0]!.onsetFrame);
    const stop = outs.find((o) => "event" in o && o.event.type === "input_audio_buffer.speech_stopped") as {
      event: Json;
    };
    const second = outs.find((o) => "event" in o && o.event.type === "input_audio_buffer.speech_started") as {
      event: Json;
    };
    expect(stop).toBeDefined();
    expect(stop.event.audio_end_ms as number).toBeGreaterThan((second.event.audio_start_ms as number) + 900);
  });
});
