/**
 * The GPT-Live WebSocket upstream path (docs/bridge.md): a werift voice
 * client -> relay -> transceiver (`--workers 1`, bridge mode) -> the mock
 * Live server of the tests, all on loopback. Measured, with our backend
 * protocol (the demo agent) as the reference in the same run:
 *
 * - setup: POST /v1/sessions until the answer: what opening the upstream and
 *   the session.start -> session.started round trip add;
 * - first audio: the upstream's first session.output_audio.delta sent -> the
 *   first RTP packet at the client.
 *
 *   node bench/bridge-live.ts [--trials 20]
 */
import { type LiveCall, startLiveMock } from "../test/support/live-mock.ts";
import { epochMs } from "../test/support/voice-client.ts";
import { benchArgs } from "./lib/args.ts";
import { setupTimes, startBridgeBench, timedSession } from "./lib/bridge-session.ts";
import { fmtP50P99, p50p99, report } from "./lib/report.ts";

const TRIALS = benchArgs({ trials: 20 }).trials;

const mock = await startLiveMock();
const bench = await startBridgeBench(mock, "gpt-live-1");
const { tx } = bench;

const LIVE = { type: "live", model: "gpt-live-1" };
const setup = await setupTimes(
  tx.url,
  TRIALS,
  { upstream: LIVE, ours: { ...LIVE, model: "ours" } },
  "session.started",
);

const upstream = mock.next();
const { vc } = await timedSession(tx.url, LIVE, "session.started");
const up: LiveCall = await upstream;
vc.startMic();

const firstAudio: number[] = [];
for (let t = 0; t < TRIALS; t++) {
  const heardFrom = vc.heard.length;
  const t0 = epochMs();
  up.speak({ ms: 400, freq: 500 + 10 * t });
  await vc.until(() => vc.heard.length > heardFrom, "first audio");
  firstAudio.push(vc.heard[heardFrom]!.at - t0);
  // The 20 frames played out, so the next answer starts from an empty queue.
  await vc.until(() => vc.heard.length >= heardFrom + 20, "the whole answer");
}

await vc.close();
await bench.close();

const ratio = p50p99(setup.upstream).p50 / p50p99(setup.ours).p50;
report(
  `bridge with a GPT-Live upstream, ms (p50 / p99 over ${TRIALS} trials)`,
  [
    ["setup: POST /v1/sessions, Live upstream (session.start -> session.started)", fmtP50P99(setup.upstream)],
    ["setup: POST /v1/sessions, our protocol (demo agent)", fmtP50P99(setup.ours)],
    ["setup ratio Live / ours (p50)", ratio.toFixed(2)],
    ["first audio: upstream delta sent -> first RTP at client", fmtP50P99(firstAudio)],
  ],
  {
    trials: TRIALS,
    setupLive: p50p99(setup.upstream),
    setupOurs: p50p99(setup.ours),
    setupRatio: ratio,
    firstAudio: p50p99(firstAudio),
  },
);
process.exit(0);
