/**
 * The Realtime-WebSocket upstream path (docs/bridge.md): a werift voice client
 * -> relay -> transceiver (`--workers 1`, bridge mode) -> the mock Realtime
 * server of the tests, all on loopback. Measured:
 *
 * - setup: POST /v1/sessions until the answer, with the Realtime upstream vs
 *   our backend protocol (the demo agent) in the same run: what opening the
 *   upstream and sending session.update adds;
 * - first audio: the upstream's first response.output_audio.delta sent -> the
 *   first RTP packet of that response at the client;
 * - barge-in: the upstream's input_audio_buffer.speech_started sent -> the last
 *   RTP packet of the interrupted response at the client, and -> the
 *   output_audio_buffer.cleared event at the client.
 *
 *   node bench/bridge-realtime.ts [--trials 20]
 */
import { type MockCall, startRealtimeMock } from "../test/support/realtime-mock.ts";
import { epochMs } from "../test/support/voice-client.ts";
import { benchArgs } from "./lib/args.ts";
import { setupTimes, startBridgeBench, timedSession } from "./lib/bridge-session.ts";
import { fmtP50P99, p50p99, report } from "./lib/report.ts";

const TRIALS = benchArgs({ trials: 20 }).trials;

const mock = await startRealtimeMock();
const bench = await startBridgeBench(mock, "default");
const { tx } = bench;

const setup = await setupTimes(tx.url, TRIALS, { upstream: {}, ours: { model: "ours" } }, "session.created");

const upstream = mock.next();
const { vc } = await timedSession(tx.url, {}, "session.created");
const up: MockCall = await upstream;
vc.startMic();

const firstAudio: number[] = [];
for (let t = 0; t < TRIALS; t++) {
  const from = vc.events.length;
  const heardFrom = vc.heard.length;
  const t0 = epochMs();
  const { responseId } = up.respond({ ms: 400, freq: 500 + 10 * t });
  await vc.until(() => vc.heard.length > heardFrom, "first audio");
  firstAudio.push(vc.heard[heardFrom]!.at - t0);
  await vc.waitEvent("output_audio_buffer.stopped", { from, pred: (e) => e.response_id === responseId });
}

const stopped: number[] = [];
const cleared: number[] = [];
for (let t = 0; t < TRIALS; t++) {
  const from = vc.events.length;
  const { responseId } = up.respond({ ms: 3000, freq: 600 });
  const on = await vc.waitEvent("output_audio_buffer.started", { from });
  // Interrupt after a varying share of the answer (5..24 frames heard), at varying points of a tick.
  const heardFrom = vc.heard.length;
  await vc.until(() => vc.heard.length - heardFrom >= 5 + ((t * 7) % 20), "agent audio");
  await new Promise((r) => setTimeout(r, (t * 3) % 20));
  const t0 = epochMs();
  up.send({ type: "input_audio_buffer.speech_started", audio_start_ms: 0, item_id: `in_${t}` });
  const c = await vc.waitEvent("output_audio_buffer.cleared", {
    from,
    pred: (e) => e.response_id === responseId,
  });
  // A round trip over the data channel, so that any packet still in flight has landed.
  const mark = vc.events.length;
  vc.send({ type: "no.such", event_id: `mark${t}` });
  await vc.waitEvent("error", { from: mark });
  const last = vc.heard.filter((h) => h.at >= on.at - 100).at(-1)!;
  stopped.push(last.at - t0);
  cleared.push(c.at - t0);
}

await vc.close();
await bench.close();

// The stream has stopped once the packet after the last one is due and does not come.
const stoppedAt = stopped.map((ms) => ms + 20);

const ratio = p50p99(setup.upstream).p50 / p50p99(setup.ours).p50;
report(
  `bridge with a Realtime upstream, ms (p50 / p99 over ${TRIALS} trials)`,
  [
    ["setup: POST /v1/sessions, Realtime upstream", fmtP50P99(setup.upstream)],
    ["setup: POST /v1/sessions, our protocol (demo agent)", fmtP50P99(setup.ours)],
    ["setup ratio Realtime / ours (p50)", ratio.toFixed(2)],
    ["first audio: upstream delta sent -> first RTP at client", fmtP50P99(firstAudio)],
    ["barge-in: speech_started sent -> last RTP at client", fmtP50P99(stopped)],
    ["barge-in: speech_started sent -> RTP stops (last RTP + 20 ms, the one not sent)", fmtP50P99(stoppedAt)],
    ["barge-in: speech_started sent -> output_audio_buffer.cleared at client", fmtP50P99(cleared)],
  ],
  {
    trials: TRIALS,
    setupRealtime: p50p99(setup.upstream),
    setupOurs: p50p99(setup.ours),
    setupRatio: ratio,
    firstAudio: p50p99(firstAudio),
    bargeInStopped: p50p99(stopped),
    bargeInRtpStops: p50p99(stoppedAt),
    bargeInCleared: p50p99(cleared),
  },
);
process.exit(0);
