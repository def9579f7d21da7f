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
import { spawnTransceiver, startTestRelay, txFetch } from "../test/support/stack.ts";
import { createVoiceClient, epochMs, type VoiceClient } from "../test/support/voice-client.ts";
import { percentile, report } from "./lib/report.ts";

const { values } = parseArgs({ options: { trials: { type: "string", default: "20" } } });
const TRIALS = Number(values.trials);

const mock = await startLiveMock();
const backend = await startBackendServer({ host: "127.0.0.1", port: 0 });
const relay = await startTestRelay(1);
const tx = await spawnTransceiver({
  cluster: 1,
  ingress: `127.0.0.1:${relay.publicAddress.port}`,
  workers: 1,
  extraArgs: ["--backends", `gpt-live-1=${mock.url},ours=${backend.url}`],
  env: { OPENAI_API_KEY: "sk-bench" },
});

async function session(model: string): Promise<{ vc: VoiceClient; id: string; setupMs: number }> {
  const vc = createVoiceClient();
  const sdp = await vc.offer();
  const t0 = performance.now();
  const res = await txFetch(`${tx.url}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp, session: { type: "live", model } }),
  });
  const body = (await res.json()) as { sdp: string; id: string };
  const setupMs = performance.now() - t0;
  if (res.status !== 201) throw new Error(`session: ${res.status} ${JSON.stringify(body)}`);
  await vc.answer(body.sdp);
  await vc.ready();
  await vc.waitEvent("session.started");
  return { vc, id: body.id, setupMs };
}

const setup = { live: [] as number[], ours: [] as number[] };
for (let t = 0; t < TRIALS; t++)
  for (const model of ["gpt-live-1", "ours"]) {
    const s = await session(model);
    (model === "ours" ? setup.ours : setup.live).push(s.setupMs);
    await txFetch(`${tx.url}/v1/sessions/${s.id}`, { method: "DELETE" });
    await s.vc.close();
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
await tx.stop("SIGINT");
await backend.close();
await mock.close();
await relay.close();

const q = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99) };
};
const fmt = (xs: number[]) => `${q(xs).p50.toFixed(1)} / ${q(xs).p99.toFixed(1)}`;
const ratio = q(setup.live).p50 / q(setup.ours).p50;
report(
  `bridge with a GPT-Live upstream, ms (p50 / p99 over ${TRIALS} trials)`,
  [
    ["setup: POST /v1/sessions, Live upstream (session.start -> session.started)", fmt(setup.live)],
    ["setup: POST /v1/sessions, our protocol (demo agent)", fmt(setup.ours)],
    ["setup ratio Live / ours (p50)", ratio.toFixed(2)],
    ["first audio: upstream delta sent -> first RTP at client", fmt(firstAudio)],
  ],
  {
    trials: TRIALS,
    setupLive: q(setup.live),
    setupOurs: q(setup.ours),
    setupRatio: ratio,
    firstAudio: q(firstAudio),
  },
);
process.exit(0);
