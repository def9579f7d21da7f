/**
 * Transceiver CPU per session with the bridge: Opus decode of the client's
 * audio, PCM to the backend over WebSocket, the backend's PCM back, Opus
 * encode and paced sending, full duplex (a backend that returns every frame,
 * so both directions run all the time). The same load in echo mode (no
 * backend: RTP in, RTP out) is the baseline; the difference is the bridge.
 * The same again with a Realtime upstream (JSON + base64 audio both ways) vs
 * our protocol (binary frames), also per frame handled (to the backend and to
 * the client in the window): on a busy machine a run that misses more ticks
 * handles fewer frames, and its CPU per session says less.
 *
 *   node bench/bridge-cpu.ts [--sessions 50] [--seconds 8]
 *
 * Bridge mode runs twice, with native libopus and with opusscript
 * (VOICE_EDGE_OPUS=opusscript), when native libopus is there. A frame
 * deadline miss is a pacer tick of the measured window that passed with no
 * callback (skipped: every stream's frame for it was not sent), over all ticks.
 *
 * The transceiver runs as `voice-edge transceiver --workers 1`; its worker is
 * measured from /proc. Relay, clients and the echoing backend run in this
 * process. Clients send real Opus (speech-like audio encoded at 48 kHz), one
 * packet per 20 ms each, from one shared timer. With two cores or more the
 * worker gets core 1 to itself and everything else shares core 0 (taskset).
 */
import { parseArgs } from "node:util";
import { OPUS_IMPL } from "../media/transceiver/bridge/opus.ts";
import type { Health } from "../media/transceiver/pool.ts";
import type { SessionInfo } from "../media/transceiver/session.ts";
import { spawnTransceiver, startTestRelay, txFetch } from "../test/support/stack.ts";
import { AudioLoad, missPct, pacerStats, speechPackets, startEchoBackend } from "./lib/bridge-load.ts";
import { openSession } from "./lib/open-session.ts";
import { cpuSeconds, pinRunning } from "./lib/proc.ts";
import { report, rssBytes } from "./lib/report.ts";

const { values } = parseArgs({
  options: { sessions: { type: "string", default: "50" }, seconds: { type: "string", default: "8" } },
});
const N = Number(values.sessions);
const SECONDS = Number(values.seconds);

const packets = speechPackets();
const ours = await startEchoBackend();
const realtime = await startEchoBackend("--realtime");
// The measured worker gets core 1 to itself; this process, the backends and the host process share core 0.
let pinned = [process.pid, ours.pid, realtime.pid].every((p) => pinRunning(p, 0));

const relay = await startTestRelay(1);

interface Run {
  cpuPct: number;
  perSessionPct: number;
  rssPerSessionKb: number;
  rxPps: number;
  framesToBackend: number;
  /** Worker CPU per 20 ms frame handled in the window (to the backend + to the client), µs. */
  usPerFrame: number;
  /** CPU of this process (relay, clients): near 100 % means the load generator, not the worker, is the limit. */
  benchCpuPct: number;
  /** The worker's pacer over the measured window (bridge mode): ticks, skipped ticks, worst lateness (whole run). */
  pacer?: { ticks: number; skipped: number; maxLateMs: number; missPct: number };
}

async function run(backendUrl?: string, env: Record<string, string> = {}): Promise<Run> {
  const bridge = backendUrl !== undefined;
  const tx = await spawnTransceiver({
    cluster: 1,
    ingress: `127.0.0.1:${relay.publicAddress.port}`,
    workers: 1,
    capacity: N + 10,
    extraArgs: bridge ? ["--backends", `default=${backendUrl}`] : [],
    env,
  });
  const health = (await (await fetch(`${tx.url}/healthz`)).json()) as Health;
  const pid = health.workers[0]!.pid;
  pinned &&= pinRunning(tx.child.pid!, 0) && pinRunning(pid, 1);
  const rss0 = rssBytes(pid);
  const load = new AudioLoad(packets);
  const clients = load.clients;
  for (let i = 0; i < N; i += 10)
    clients.push(
      ...(await Promise.all(Array.from({ length: Math.min(10, N - i) }, () => openSession(tx.url)))).map(
        (s) => s.client,
      ),
    );
  load.start();
  await new Promise((r) => setTimeout(r, 2000)); // warm-up
  const listed = async () =>
    ((await (await txFetch(`${tx.url}/v1/sessions`)).json()) as { sessions: SessionInfo[] }).sessions;
  const toBackend = (list: SessionInfo[]) =>
    list.reduce((n, s) => n + (s.bridge?.link.audioFramesOut ?? 0), 0);
  const up0 = toBackend(await listed());
  const rx0 = load.received();
  const p0 = await pacerStats(tx.url);
  const cpu0 = cpuSeconds(pid);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = cpuSeconds(pid) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  const rx = load.received() - rx0;
  const rss1 = rssBytes(pid);
  const list = await listed();
  // Frames the worker handled in the window, both ways: a fair unit when ticks are missed.
  const frames = toBackend(list) - up0 + rx;
  const p1 = await pacerStats(tx.url);
  const pacer = bridge
    ? {
        ticks: p1.ticks - p0.ticks,
        skipped: p1.skipped - p0.skipped,
        maxLateMs: p1.maxLateMs,
        missPct: missPct(p0, p1),
      }
    : undefined;
  load.stop();
  await Promise.all(clients.map((c) => c.close()));
  await tx.stop("SIGINT");
  return {
    cpuPct: (cpu / wall) * 100,
    perSessionPct: (cpu / wall / N) * 100,
    rssPerSessionKb: (rss1 - rss0) / N / 1024,
    rxPps: rx / wall / N,
    framesToBackend: toBackend(list),
    usPerFrame: (cpu * 1e6) / Math.max(1, frames),
    benchCpuPct: ((self.user + self.system) / 1e6 / wall) * 100,
    pacer,
  };
}

const echo = await run();
const bridged = await run(ours.url);
const wasm = OPUS_IMPL === "native" ? await run(ours.url, { VOICE_EDGE_OPUS: "opusscript" }) : undefined;
const rt = await run(realtime.url);
ours.stop();
realtime.stop();
await relay.close();

const overhead = bridged.perSessionPct - echo.perSessionPct;
report(
  `bridge CPU: ${N} full-duplex sessions on one worker for ${SECONDS} s`,
  [
    ["worker alone on a core (taskset)", pinned ? "yes" : "no"],
    ["echo mode: worker CPU, % of a core", echo.cpuPct],
    ["echo mode: per session, % of a core", echo.perSessionPct],
    ["echo mode: sessions per core", Math.floor(100 / echo.perSessionPct)],
    [`bridge (${OPUS_IMPL}): worker CPU, % of a core`, bridged.cpuPct],
    ["bridge: per session, % of a core", bridged.perSessionPct],
    ["bridge: sessions per core", Math.floor(100 / bridged.perSessionPct)],
    ["bridge overhead per session (decode+encode+WS), % of a core", overhead],
    ["bridge: memory per session, KiB", Math.round(bridged.rssPerSessionKb)],
    ["bridge: frame deadline misses, % of ticks", bridged.pacer!.missPct],
    ...(wasm
      ? ([
          ["bridge (opusscript): per session, % of a core", wasm.perSessionPct],
          ["bridge (opusscript): sessions per core", Math.floor(100 / wasm.perSessionPct)],
          ["bridge (opusscript): frame deadline misses, % of ticks", wasm.pacer!.missPct],
          ["bridge native / opusscript, CPU per session", bridged.perSessionPct / wasm.perSessionPct],
        ] as [string, number][])
      : []),
    ["Realtime upstream: worker CPU, % of a core", rt.cpuPct],
    ["Realtime upstream: per session, % of a core", rt.perSessionPct],
    ["Realtime upstream / our protocol, CPU per session", rt.perSessionPct / bridged.perSessionPct],
    ["Realtime upstream: frame deadline misses, % of ticks", rt.pacer!.missPct],
    [
      "worker CPU per frame handled (to backend + to client), µs: our protocol / Realtime",
      `${bridged.usPerFrame.toFixed(0)} / ${rt.usPerFrame.toFixed(0)}`,
    ],
    ["Realtime upstream / our protocol, CPU per frame handled", rt.usPerFrame / bridged.usPerFrame],
    [
      "audio heard by each client, packets/s (echo / bridge / opusscript / Realtime)",
      `${echo.rxPps.toFixed(1)} / ${bridged.rxPps.toFixed(1)} / ${wasm?.rxPps.toFixed(1) ?? "-"} / ${rt.rxPps.toFixed(1)}`,
    ],
    [
      "bridge: pacer ticks / skipped / worst lateness (ms)",
      `${bridged.pacer?.ticks} / ${bridged.pacer?.skipped} / ${bridged.pacer?.maxLateMs.toFixed(1)}`,
    ],
    [
      "load generator (this process) CPU, % (echo / bridge)",
      `${echo.benchCpuPct.toFixed(0)} / ${bridged.benchCpuPct.toFixed(0)}`,
    ],
  ],
  {
    sessions: N,
    seconds: SECONDS,
    echo,
    opus: OPUS_IMPL,
    bridge: bridged,
    bridgeOpusscript: wasm,
    realtime: rt,
    realtimeRatio: rt.perSessionPct / bridged.perSessionPct,
    realtimePerFrameRatio: rt.usPerFrame / bridged.usPerFrame,
    overheadPct: overhead,
    sessionsPerCore: Math.floor(100 / bridged.perSessionPct),
    pinned,
  },
);
process.exit(0);
