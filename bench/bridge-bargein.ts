/**
 * Barge-in latency: from the first speech frame the client sends while the
 * agent is talking to the last agent audio frame the client receives. The
 * transceiver sends one frame per 20 ms tick, so audio stops with the last
 * tick before the clear arrives: that can be before the clear reaches the
 * client. Where the time goes, along the clear's path:
 *
 * - uplink: client -> relay -> transceiver (Opus decode) -> backend WebSocket,
 *   to the arrival of the first interrupting frame at the backend;
 * - VAD: from that arrival to the frame that confirms speech (min_speech_ms:
 *   the next frame comes 20 ms later);
 * - downlink: the backend's output_audio_buffer.clear -> transceiver drops its
 *   queue -> output_audio_buffer.cleared at the client.
 *
 * Also measured: the transport round trip without the backend (an invalid
 * event answered by the transceiver itself), i.e. the network and werift part.
 *
 *   node bench/bridge-bargein.ts [--trials 12] [--min-speech-ms 40]
 *
 * Relay, demo backend and client run in this process (one clock), the
 * transceiver as `voice-edge transceiver --workers 1`.
 */
import { startBackendServer } from "../media/backend/server.ts";
import { spawnTransceiver, startTestRelay, txFetch } from "../test/support/stack.ts";
import { createVoiceClient, epochMs, type Json, silence, tone } from "../test/support/voice-client.ts";
import { benchArgs } from "./lib/args.ts";
import { percentile, report, samples } from "./lib/report.ts";

const values = benchArgs({ trials: 12, "min-speech-ms": 40 });
const TRIALS = values.trials;

const arrivals = new Map<number, number>(); // backend frame index -> arrival (epoch ms)
let barge: { onsetFrame: number; detectedFrame: number } | undefined;
const backend = await startBackendServer({
  host: "127.0.0.1",
  port: 0,
  vad: { minSpeechMs: values["min-speech-ms"] },
  onAudioFrame: (_s, i, at) => arrivals.set(i, at),
  hooks: () => ({ onBargeIn: (b) => (barge = b) }),
});
const relay = await startTestRelay(1);
const tx = await spawnTransceiver({
  cluster: 1,
  ingress: `127.0.0.1:${relay.publicAddress.port}`,
  workers: 1,
  extraArgs: ["--backends", `default=${backend.url}`],
});

const vc = createVoiceClient();
const res = await txFetch(`${tx.url}/v1/sessions`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    sdp: await vc.offer(),
    session: {
      audio: {
        input: { turn_detection: { type: "server_vad", silence_duration_ms: 250, prefix_padding_ms: 100 } },
      },
    },
  }),
});
await vc.answer(((await res.json()) as { sdp: string }).sdp);
await vc.ready();
await vc.waitEvent("session.created");

// Transport round trip without the backend: the transceiver answers a bad event itself.
const rtt: number[] = [];
for (let i = 0; i < 20; i++) {
  const from = vc.events.length;
  const t0 = epochMs();
  vc.send(`{"type":"no.such","event_id":"rtt${i}"}`);
  const r = await vc.waitEvent("error", { from });
  rtt.push(r.at - t0);
}

vc.startMic();
const rows = samples("total", "uplink", "vad", "downlink", "cleared");
for (let t = 0; t < TRIALS; t++) {
  // Shift the microphone's 20 ms clock against the transceiver's pacer by a different part of a
  // frame each trial: when audio stops depends on where the clear lands between two pacer ticks.
  vc.stopMic();
  await new Promise((r) => setTimeout(r, 1 + ((t * 7) % 20)));
  vc.startMic();
  const from = vc.events.length;
  await vc.say(tone(800, 300 + 20 * t));
  const on = await vc.waitEvent("output_audio_buffer.started", { from, timeoutMs: 5000 });
  const rid = on.event.response_id;
  // Interrupt after a varying share of the answer (8..30 frames heard).
  const wantHeard = 8 + ((t * 7) % 23);
  await vc.until(() => vc.heard.filter((h) => h.at >= on.at - 100).length >= wantHeard, "agent audio", 5000);
  barge = undefined;
  const bargeIndex = vc.sent.length; // the next frame the mic sends is the first speech frame
  const bargeFrom = vc.events.length;
  void vc.say(tone(300, 700));
  const cleared = await vc.waitEvent("output_audio_buffer.cleared", {
    from: bargeFrom,
    pred: (e: Json) => e.response_id === rid,
  });
  // Wait for the interruption's own answer to finish, so every frame of the first one has arrived.
  const next = await vc.waitEvent("output_audio_buffer.started", {
    from: bargeFrom,
    pred: (e: Json) => e.response_id !== rid,
  });
  await vc.waitEvent("output_audio_buffer.stopped", {
    from: vc.events.indexOf(next),
    pred: (e: Json) => e.response_id === next.event.response_id,
  });
  const t0 = vc.sent[bargeIndex]!.at;
  const last = vc.heard.filter((h) => h.at >= on.at - 100 && h.at < next.at - 50).at(-1)!;
  const b = barge as { onsetFrame: number; detectedFrame: number } | undefined;
  if (!b) throw new Error("the backend saw no barge-in");
  const onsetAt = arrivals.get(b.onsetFrame)!;
  const detectedAt = arrivals.get(b.detectedFrame)!;
  rows.total.push(last.at - t0);
  rows.uplink.push(onsetAt - t0);
  rows.vad.push(detectedAt - onsetAt);
  rows.downlink.push(cleared.at - detectedAt);
  rows.cleared.push(cleared.at - t0);
  await vc.say(silence(200), false);
}
vc.stopMic();
await vc.close();
await tx.stop("SIGINT");
await backend.close();
await relay.close();

const s = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99) };
};
const fmt = (xs: number[]) => {
  const q = s(xs);
  return `${q.p50.toFixed(1)} / ${q.p99.toFixed(1)}`;
};
report(
  `bridge barge-in latency, ms (p50 / p99 over ${TRIALS} trials; min_speech_ms ${values["min-speech-ms"]})`,
  [
    ["audio stopped: first interrupting frame sent -> last agent frame heard", fmt(rows.total)],
    ["clear path: first frame sent -> output_audio_buffer.cleared at client", fmt(rows.cleared)],
    ["  uplink: client -> relay -> transceiver (decode) -> backend", fmt(rows.uplink)],
    ["  VAD: first speech frame at backend -> speech confirmed", fmt(rows.vad)],
    ["  downlink: clear -> transceiver -> cleared event at client", fmt(rows.downlink)],
    ["transport round trip without backend (data channel, relay, werift)", fmt(rtt)],
  ],
  {
    trials: TRIALS,
    minSpeechMs: values["min-speech-ms"],
    total: s(rows.total),
    uplink: s(rows.uplink),
    vad: s(rows.vad),
    downlink: s(rows.downlink),
    cleared: s(rows.cleared),
    transportRtt: s(rtt),
  },
);
process.exit(0);
