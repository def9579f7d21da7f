/**
 * The demo backend's VADs side by side: energy vs Silero (v5, onnxruntime-node),
 * on speech made here (espeak-ng + sox, several voices) with seeded pink noise
 * at 20/10/0 dB SNR, and on that noise alone.
 *
 *   node bench/vad.ts [--utterances 8] [--noise-seconds 60] [--streams 20]
 *
 * - speech_started delay: audio the VAD had decided when it fired, minus the
 *   true start of speech (the clean signal's first 10 ms above -50 dBFS);
 * - speech_stopped delay: the same against the true end (it includes
 *   silence_duration_ms, 500 here);
 * - missed / extra: true turns with no start, starts that match no turn;
 * - false starts per minute on the noise alone, at each SNR's noise level;
 * - CPU: µs per 20 ms frame and % of a core per stream, one stream alone and
 *   `--streams` streams whose Silero windows are batched into one inference.
 *
 * Delays are in audio time: Silero decides after inference, which the
 * backend batches on the event loop (batch wall time, p50/p99, below).
 */
import { parseArgs } from "node:util";
import { EnergyVad } from "../media/backend/vad/energy.ts";
import { SileroVad } from "../media/backend/vad/silero.ts";
import { SileroModel } from "../media/backend/vad/silero-model.ts";
import { SileroScheduler } from "../media/backend/vad/silero-scheduler.ts";
import type { Vad, VadEvent } from "../media/backend/vad/vad.ts";
import { noiseOnly, type Scene, scene, speak } from "../test/support/speech.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    utterances: { type: "string", default: "8" },
    "noise-seconds": { type: "string", default: "60" },
    streams: { type: "string", default: "20" },
  },
});
const FRAME = 960;
const SILENCE_MS = 500;
const SPEECH_DBFS = -26;
const SNRS = [20, 10, 0];

const SENTENCES = [
  "Hello there, how are you doing today?",
  "Please call me back tomorrow morning.",
  "I would like to book a table for two at eight.",
  "The weather should be fine for the weekend.",
  "Can you tell me where the nearest station is?",
  "My order number is four five six seven.",
  "That sounds good, let's do it.",
  "No, I said Tuesday, not Thursday.",
];
const VOICES = [
  { voice: "en-us", pitch: 50 },
  { voice: "en-gb", pitch: 30 },
  { voice: "en-us+f3", pitch: 60 },
  { voice: "en-gb+m3", pitch: 40 },
];
const utterances = Array.from({ length: Number(values.utterances) }, (_, i) =>
  speak(SENTENCES[i % SENTENCES.length]!, { ...VOICES[i % VOICES.length]!, wpm: 150 + 10 * (i % 3) }),
);

const model = await SileroModel.load();
const batchMs: number[] = [];
const scheduler = new SileroScheduler(model, 32, { onBatch: (_n, s) => batchMs.push(s * 1000) });

interface Timed {
  e: VadEvent;
  atMs: number;
}
type Kind = "energy" | "silero";
const make = (k: Kind): Vad =>
  k === "energy"
    ? new EnergyVad({ silenceDurationMs: SILENCE_MS })
    : new SileroVad({ silenceDurationMs: SILENCE_MS });

/** Runs the VADs frame by frame (Silero's windows inferred after each round, batched); CPU in µs. */
async function run(
  vads: Vad[],
  pcms: Buffer[],
): Promise<{ events: Timed[][]; cpuUs: number; frames: number }> {
  const events: Timed[][] = vads.map(() => []);
  const take = (i: number) => (es: VadEvent[]) => {
    for (const e of es) events[i]!.push({ e, atMs: vads[i]!.positionMs });
  };
  const detach = vads.map((v, i) => (v instanceof SileroVad ? scheduler.attach(v, take(i)) : () => {}));
  const silero = vads.some((v) => v instanceof SileroVad);
  const len = Math.max(...pcms.map((p) => p.length));
  let frames = 0;
  const c0 = process.cpuUsage();
  for (let at = 0; at < len; at += FRAME) {
    vads.forEach((v, i) => {
      if (at < pcms[i]!.length) {
        take(i)(v.push(pcms[i]!.subarray(at, at + FRAME)));
        frames++;
      }
    });
    if (silero) await scheduler.flush();
  }
  const c = process.cpuUsage(c0);
  for (const d of detach) d();
  return { events, cpuUs: c.user + c.system, frames };
}

interface Accuracy {
  startDelay: number[];
  stopDelay: number[];
  missed: number;
  extra: number;
}
function score(events: Timed[], s: Scene): Accuracy {
  const a: Accuracy = { startDelay: [], stopDelay: [], missed: 0, extra: 0 };
  const used = new Set<Timed>();
  for (const turn of s.turns) {
    // The first start between 300 ms before the turn and its end; the first stop after it.
    const i = events.findIndex(
      (t) =>
        t.e.type === "speech_started" && t.atMs >= turn.startMs - 300 && t.atMs <= turn.endMs && !used.has(t),
    );
    if (i < 0) {
      a.missed++;
      continue;
    }
    used.add(events[i]!);
    a.startDelay.push(events[i]!.atMs - turn.startMs);
    const stop = events.slice(i + 1).find((t) => t.e.type === "speech_stopped");
    if (stop) a.stopDelay.push(stop.atMs - turn.endMs);
  }
  a.extra = events.filter((t) => t.e.type === "speech_started" && !used.has(t)).length;
  return a;
}

const sorted = (x: number[]) => [...x].sort((p, q) => p - q);
const p = (x: number[], q: number) => (x.length ? Math.round(percentile(sorted(x), q)) : Number.NaN);
const rows: [string, string | number][] = [];
const json: Record<string, unknown> = {};
const cell = (k: Kind, v: string) => `${k.padEnd(6)} ${v}`;

for (const snr of SNRS) {
  const s = scene(utterances, { snrDb: snr, speechDbfs: SPEECH_DBFS, seed: snr + 11 });
  for (const k of ["energy", "silero"] as Kind[]) {
    const { events } = await run([make(k)], [s.pcm]);
    const a = score(events[0]!, s);
    rows.push([
      `${snr} dB SNR, ${s.turns.length} turns: ${k}`,
      `start p50/p99 ${p(a.startDelay, 50)}/${p(a.startDelay, 99)} ms, stop p50/p99 ${p(a.stopDelay, 50)}/${p(a.stopDelay, 99)} ms, missed ${a.missed}, extra ${a.extra}`,
    ]);
    json[`${k}_snr${snr}`] = {
      start_p50: p(a.startDelay, 50),
      start_p99: p(a.startDelay, 99),
      stop_p50: p(a.stopDelay, 50),
      stop_p99: p(a.stopDelay, 99),
      missed: a.missed,
      extra: a.extra,
      turns: s.turns.length,
    };
  }
}

const noiseMs = Number(values["noise-seconds"]) * 1000;
for (const snr of SNRS) {
  const level = SPEECH_DBFS - snr;
  const n = noiseOnly(noiseMs, level, snr + 5);
  const per: Record<Kind, number> = { energy: 0, silero: 0 };
  const inTurn: Record<Kind, number> = { energy: 0, silero: 0 };
  for (const k of ["energy", "silero"] as Kind[]) {
    const { events } = await run([make(k)], [n]);
    per[k] = events[0]!.filter((t) => t.e.type === "speech_started").length / (noiseMs / 60_000);
    // How much of the noise it spent inside a "turn" (a start without a stop runs to the end).
    let from: number | undefined;
    let ms = 0;
    for (const t of events[0]!) {
      if (t.e.type === "speech_started") from = t.e.onsetMs;
      else if (from !== undefined) {
        ms += t.e.audioEndMs - from;
        from = undefined;
      }
    }
    if (from !== undefined) ms += noiseMs - from;
    inTurn[k] = (100 * ms) / noiseMs;
  }
  rows.push([
    `noise alone at ${level} dBFS: false starts / min (time in a turn)`,
    `${cell("energy", `${per.energy.toFixed(1)} (${inTurn.energy.toFixed(0)} %)`)}   ${cell("silero", `${per.silero.toFixed(1)} (${inTurn.silero.toFixed(0)} %)`)}`,
  ]);
  json[`noise_${-level}dbfs`] = { false_starts_per_min: per, time_in_turn_pct: inTurn };
}

// CPU: one stream, then --streams at once (Silero batched), on the 10 dB scene.
const cpuScene = scene(utterances, { snrDb: 10, speechDbfs: SPEECH_DBFS, seed: 99 }).pcm;
const STREAMS = Number(values.streams);
const cpu: Record<string, number> = {};
for (const k of ["energy", "silero"] as Kind[]) {
  for (const n of [1, STREAMS]) {
    const r = await run(
      Array.from({ length: n }, () => make(k)),
      Array.from({ length: n }, () => cpuScene),
    );
    const us = r.cpuUs / r.frames;
    cpu[`${k}_${n}`] = us;
    rows.push([
      `CPU per stream, ${n} stream(s): ${k}`,
      `${us.toFixed(1)} µs per 20 ms frame = ${((us / 20_000) * 100).toFixed(2)} % of a core`,
    ]);
  }
}
rows.push([
  "Silero / energy CPU (1 stream, same run)",
  `${(cpu.silero_1! / cpu.energy_1!).toFixed(1)}x; batched ${STREAMS}: ${(cpu[`silero_${STREAMS}`]! / cpu[`energy_${STREAMS}`]!).toFixed(1)}x`,
]);
const bs = sorted(batchMs);
rows.push([
  "Silero batch wall time p50/p99 (all runs)",
  `${percentile(bs, 50).toFixed(2)}/${percentile(bs, 99).toFixed(2)} ms`,
]);
json.cpu_us_per_frame = cpu;
json.batch_ms = { p50: percentile(bs, 50), p99: percentile(bs, 99) };
report("vad: energy vs Silero (demo backend)", rows, json);
await model.close();
