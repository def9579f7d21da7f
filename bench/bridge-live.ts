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
import { parseArgs } from "node:util";
import { startBackendServer } from "../media/backend/server.ts";
import { type LiveCall, startLiveMock } from "../test/support/live-mock.ts";
import { startRelayedTransceiver } from "../test/support/stack.ts";
import { epochMs } from "../test/support/voice-client.ts";
import { endSession, timedSession } from "./lib/bridge-session.ts";
import { fmtP50P99, p50p99, report } from "./lib/report.ts";

const { values } = parseArgs({ options: { trials: { type: "string", default: "20" } } });
const TRIALS = Number(values.trials);

const mock = await startLiveMock();
const backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
const relayed = await startRelayedTransceiver(1, {
  workers: 1,
  extraArgs: ["--backends", `gpt-live-1=${mock.url},ours=${backend.url}`],
  env: { OPENAI_API_KEY: "sk-bench" },
});
const { tx } = relayed;

const session = (model: string) => timedSession(tx.url, { type: "live", model }, "session.started");

const setup = { live: [] as number[], ours: [] as number[] };
for (let t = 0; t < TRIALS; t++)
  for (const model of ["gpt-live-1", "ours"]) {
    const s = await session(model);
    (model === "ours" ? setup.ours : setup.live).push(s.setupMs);
    await endSession(tx.url, s);
  }

const upstream = mock.next();
const { vc } = await session("gpt-live-1");
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
await relayed.close();
await backend.close();
await mock.close();

const ratio = p50p99(setup.live).p50 / p50p99(setup.ours).p50;
report(
  `bridge with a GPT-Live upstream, ms (p50 / p99 over ${TRIALS} trials)`,
  [
    ["setup: POST /v1/sessions, Live upstream (session.start -> session.started)", fmtP50P99(setup.live)],
    ["setup: POST /v1/sessions, our protocol (demo agent)", fmtP50P99(setup.ours)],
    ["setup ratio Live / ours (p50)", ratio.toFixed(2)],
    ["first audio: upstream delta sent -> first RTP at client", fmtP50P99(firstAudio)],
  ],
  {
    trials: TRIALS,
    setupLive: p50p99(setup.live),
    setupOurs: p50p99(setup.ours),
    setupRatio: ratio,
    firstAudio: p50p99(firstAudio),
  },
);
process.exit(0);
