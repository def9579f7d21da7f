/**
 * Setup under a burst, on one transceiver worker:
 *
 *   node bench/transceiver-burst.ts [--live 50] [--burst 50] [--reps 3] [--sustain-seconds 10] [--in-flight 10]
 *
 * 1. `--live` bridged sessions stream full-duplex audio (real Opus both ways
 *    through an echoing backend, as in bridge-cpu.ts); a quiet window measures
 *    the worker's event-loop delay and the pacer's frame deadline misses.
 * 2. `--burst` offers are posted at once beside them, `--reps` times: how many
 *    connect, offer->connected (client) and create->connected (server), and the
 *    same event-loop delay and misses while they set up.
 * 3. With the live sessions closed, `--in-flight` setups at a time for
 *    `--sustain-seconds`: sessions established per second, per core of the
 *    worker's CPU.
 *
 * The clients are werift, which as DTLS client waits a fixed 100 ms before its
 * ClientHello (browsers do not); the "less werift's 100 ms" rows take it off.
 * The event-loop delay is perf_hooks.monitorEventLoopDelay (1 ms resolution)
 * inside the worker, through its inspector (lib/inspect.ts). The worker runs as
 * `voice-edge transceiver --workers 1`; the relay, the clients and this
 * script share this process, the backend has its own. With two cores or more
 * the worker gets core 1 to itself and everything else shares core 0.
 */
import type { Health } from "../media/transceiver/pool.ts";
import type { SessionInfo } from "../media/transceiver/session.ts";
import { startRelayedTransceiver, txFetch } from "../test/support/stack.ts";
import { benchArgs } from "./lib/args.ts";
import { AudioLoad, missPct, pacerStats, speechPackets, startEchoBackend } from "./lib/bridge-load.ts";
import { INSPECT_ENV, inspectWorker } from "./lib/inspect.ts";
import { type OpenedSession, openSession } from "./lib/open-session.ts";
import { cpuSeconds, pinRunning } from "./lib/proc.ts";
import { percentile, report } from "./lib/report.ts";

const args = benchArgs({ live: 50, burst: 50, reps: 3, "sustain-seconds": 10, "in-flight": 10 });
const LIVE = args.live;
const BURST = args.burst;
const REPS = args.reps;
const SUSTAIN_S = args["sustain-seconds"];
const IN_FLIGHT = args["in-flight"];
const WERIFT_DTLS_WAIT_MS = 100;

const backend = await startEchoBackend();
const relayed = await startRelayedTransceiver(1, {
  workers: 1,
  capacity: LIVE + BURST + IN_FLIGHT + 10,
  extraArgs: ["--backends", `default=${backend.url}`],
  env: INSPECT_ENV,
});
const { tx } = relayed;
const workerPid = ((await (await fetch(`${tx.url}/healthz`)).json()) as Health).workers[0]!.pid;
// The worker on a core of its own, the load (this process, the backend, the host process) on the other.
const pinned =
  [process.pid, backend.pid, tx.child.pid!].every((pid) => pinRunning(pid, 0)) && pinRunning(workerPid, 1);
const inspector = await inspectWorker(workerPid, tx.child.stderr!);

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}
await inspector.evaluate(
  `(globalThis.benchLoopDelay = process.getBuiltinModule("node:perf_hooks").monitorEventLoopDelay({ resolution: 1 }), benchLoopDelay.enable(), 0)`,
);
const resetLoopDelay = () => inspector.evaluate("(benchLoopDelay.reset(), 0)");
const loopDelay = () =>
  inspector.evaluate<LoopDelay>(
    "({ p50: benchLoopDelay.percentile(50) / 1e6, p99: benchLoopDelay.percentile(99) / 1e6, max: benchLoopDelay.max / 1e6 })",
  );

async function serverSetupMs(id: string): Promise<number | undefined> {
  const info = (await (await txFetch(`${tx.url}/v1/sessions/${id}`)).json()) as SessionInfo;
  return info.connectedAt === undefined ? undefined : info.connectedAt - info.createdAt;
}

async function end(s: OpenedSession): Promise<void> {
  await s.client.close();
  await txFetch(`${tx.url}/v1/sessions/${s.id}`, { method: "DELETE" });
}

await end(await openSession(tx.url)); // the first session pays for the certificate

// 1. Live sessions, and a quiet window beside them.
const load = new AudioLoad(speechPackets());
for (let i = 0; i < LIVE; i += 10) {
  const batch = await Promise.all(Array.from({ length: Math.min(10, LIVE - i) }, () => openSession(tx.url)));
  load.clients.push(...batch.map((s) => s.client));
}
load.start();
await new Promise((r) => setTimeout(r, 2000)); // settle
interface Window {
  loop: LoopDelay;
  missPct: number;
  /** Audio each live client heard, packets/s. */
  heardPps: number;
}
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; window: Window }> {
  await resetLoopDelay();
  const p0 = await pacerStats(tx.url);
  const rx0 = load.received();
  const t0 = performance.now();
  const result = await work();
  const wall = (performance.now() - t0) / 1000;
  const heardPps = (load.received() - rx0) / wall / Math.max(1, LIVE);
  return {
    result,
    window: { loop: await loopDelay(), missPct: missPct(p0, await pacerStats(tx.url)), heardPps },
  };
}
const quiet = (await measured(() => new Promise((r) => setTimeout(r, 3000)))).window;

// 2. Bursts beside the live sessions.
const clientMs: number[] = [];
const serverMs: number[] = [];
const bursts: Window[] = [];
let connected = 0;
const failures = new Map<string, number>();
for (let r = 0; r < REPS; r++) {
  const { result, window } = await measured(() =>
    Promise.allSettled(Array.from({ length: BURST }, () => openSession(tx.url))),
  );
  bursts.push(window);
  const opened = result.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  for (const s of result) {
    if (s.status === "fulfilled") continue;
    const why = String((s.reason as Error)?.message ?? s.reason).slice(0, 80);
    failures.set(why, (failures.get(why) ?? 0) + 1);
  }
  connected += opened.length;
  for (const s of opened) {
    clientMs.push(s.ms);
    const ms = await serverSetupMs(s.id);
    if (ms !== undefined) serverMs.push(ms);
  }
  await Promise.all(opened.map(end));
  await new Promise((r) => setTimeout(r, 1000)); // let the closes finish before the next burst
}
load.stop();
await Promise.all(load.clients.map((c) => c.close()));

// 3. Sustained setup rate, nothing else on the worker.
const sustainedMs: number[] = [];
const cpu0 = cpuSeconds(workerPid);
const t0 = performance.now();
const deadline = t0 + SUSTAIN_S * 1000;
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < deadline) {
      const s = await openSession(tx.url);
      sustainedMs.push(s.ms);
      await end(s);
    }
  }),
);
const sustainWall = (performance.now() - t0) / 1000;
const sustainCores = (cpuSeconds(workerPid) - cpu0) / sustainWall;
const perSecond = sustainedMs.length / sustainWall;
inspector.close();
await relayed.close();
backend.stop();

for (const xs of [clientMs, serverMs, sustainedMs]) xs.sort((a, b) => a - b);
const less = (ms: number) => ms - WERIFT_DTLS_WAIT_MS;
const worst = (f: (w: Window) => number) => Math.max(...bursts.map(f));
const mean = (f: (w: Window) => number) => bursts.reduce((n, w) => n + f(w), 0) / bursts.length;
report(
  `transceiver burst: ${BURST} offers at once beside ${LIVE} live bridged sessions on one worker, ${REPS} times`,
  [
    ["worker alone on a core (taskset)", pinned ? "yes" : "no"],
    ["burst: sessions connected / offered", `${connected} / ${BURST * REPS}`],
    ...[...failures].map(([why, n]): [string, number] => [`  failed: ${why}`, n]),
    [
      "offer->connected p50 / p99, ms (werift client)",
      `${percentile(clientMs, 50).toFixed(0)} / ${percentile(clientMs, 99).toFixed(0)}`,
    ],
    [
      "  less werift's 100 ms DTLS wait",
      `${less(percentile(clientMs, 50)).toFixed(0)} / ${less(percentile(clientMs, 99)).toFixed(0)}`,
    ],
    [
      "server create->connected p50 / p99, ms",
      `${percentile(serverMs, 50).toFixed(0)} / ${percentile(serverMs, 99).toFixed(0)}`,
    ],
    [
      "  less werift's 100 ms DTLS wait",
      `${less(percentile(serverMs, 50)).toFixed(0)} / ${less(percentile(serverMs, 99)).toFixed(0)}`,
    ],
    [
      "worker event-loop delay p99 / max, ms: live only",
      `${quiet.loop.p99.toFixed(1)} / ${quiet.loop.max.toFixed(1)}`,
    ],
    [
      "  during the bursts (worst burst)",
      `${worst((w) => w.loop.p99).toFixed(1)} / ${worst((w) => w.loop.max).toFixed(1)}`,
    ],
    [
      "live sessions' frame deadline misses, %: live only / bursts (mean)",
      `${quiet.missPct.toFixed(2)} / ${mean((w) => w.missPct).toFixed(2)}`,
    ],
    [
      "audio each live client heard, packets/s: live only / bursts",
      `${quiet.heardPps.toFixed(1)} / ${mean((w) => w.heardPps).toFixed(1)}`,
    ],
    [`sustained (${IN_FLIGHT} in flight, ${SUSTAIN_S} s): sessions established per second`, perSecond],
    ["  worker CPU, cores", sustainCores],
    ["  sessions established per second per core", perSecond / sustainCores],
    [
      "  offer->connected p50 / p99, ms (werift client)",
      `${percentile(sustainedMs, 50).toFixed(0)} / ${percentile(sustainedMs, 99).toFixed(0)}`,
    ],
  ],
  {
    live: LIVE,
    pinned,
    burst: BURST,
    reps: REPS,
    connected,
    offered: BURST * REPS,
    failures: Object.fromEntries(failures),
    offerToConnectedMs: { p50: percentile(clientMs, 50), p99: percentile(clientMs, 99) },
    serverCreateToConnectedMs: { p50: percentile(serverMs, 50), p99: percentile(serverMs, 99) },
    weriftDtlsWaitMs: WERIFT_DTLS_WAIT_MS,
    loopDelayMs: { liveOnly: quiet.loop, bursts: bursts.map((w) => w.loop) },
    missPct: { liveOnly: quiet.missPct, bursts: bursts.map((w) => w.missPct) },
    heardPps: { liveOnly: quiet.heardPps, bursts: bursts.map((w) => w.heardPps) },
    sustained: { perSecond, workerCores: sustainCores, perSecondPerCore: perSecond / sustainCores },
  },
);
process.exit(0);
