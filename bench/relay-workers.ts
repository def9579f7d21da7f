/**
 * Multi-core relay: `node bench/relay-workers.ts [--duration S] [--reps N] [--pin] [--rate R]`.
 *
 * Throughput of `voice-edge relay --workers 1` and `--workers 2` (SO_REUSEPORT)
 * with 1,000 simulated flows of 200-byte packets (loadgen -> relay -> echo,
 * one round trip = two relayed datagrams), and the scaling ratio. Per setting:
 *
 *   capacity   the highest offered rate (open loop, a ladder of --step round trips/s)
 *              that the relay carries with at most 1 % loss
 *   closed     round trips/s with --window packets in flight (one shared window: the
 *              slowest worker sets the pace, so it understates unequal workers)
 *   CPU        CPU-seconds of the worker processes (from /proc) per round trip
 *   latency    round-trip p50/p99 at a fixed --rate
 *
 * The load generator and echo (bench-udp, C) run on CPU 0. The workers are
 * left to the kernel, or with --pin worker i goes to CPU 1-(i mod 2). On a
 * 2-core machine a second worker can only have what the harness leaves of
 * CPU 0 (the busy columns show it), so the ratio there is a floor; rt/CPU-s
 * says whether a worker loses efficiency with company (it shares nothing but
 * the port).
 *
 * Without ../shared/bench-udp it falls back to the Node load generator
 * (worker threads), whose own CPU use makes the ratio meaningless.
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { type BenchUdp, buildBenchUdp, cLoad } from "./lib/bench-udp.ts";
import { LOAD_OPTIONS, type LoadResult, type LoadSpec } from "./lib/load.ts";
import { nodeEcho, nodeLoad } from "./lib/node-load.ts";
import { freeUdpPort, hasTaskset, start, stopAll, waitForOutput } from "./lib/proc.ts";
import { benchRelay, cpuBusySeconds, fmt, hintStun, median, pinPid, ROOT } from "./lib/relay-procs.ts";

const { values: argv } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    window: { type: "string", default: "512" },
    rate: { type: "string", default: "20000" },
    step: { type: "string", default: "5000" },
    pin: { type: "boolean", default: false },
  },
});
const STEP = Number(argv.step);
const PIN = argv.pin;
const DURATION = Number(argv.duration);
const REPS = Math.max(1, Number(argv.reps));
const CLIENTS = Number(argv.clients);
const SIZE = Number(argv.size);
const WINDOW = Number(argv.window);
const RATE = Number(argv.rate);
const HARNESS_CPU = 0;

interface Row {
  workers: number;
  capacity: number;
  maxRtPerS: number;
  cpuS: number;
  rtPerCpuS: number;
  p50Us: number;
  p99Us: number;
  lossPct: number;
  /** Busy % of CPU 0 and CPU 1 (everything, softirq included) during the closed-loop phase. */
  cpu0Pct: number;
  cpu1Pct: number;
}

async function main() {
  const bu = buildBenchUdp(ROOT);
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  let stopEcho: (() => Promise<void>) | undefined;
  try {
    const echoPort = await freeUdpPort();
    let load: (spec: LoadSpec) => Promise<LoadResult>;
    if ("missing" in bu) {
      console.log(
        `NOTE: ${bu.missing}: Node load generator; its CPU use makes the numbers a sanity check only.`,
      );
      stopEcho = await nodeEcho(echoPort);
      load = nodeLoad;
    } else {
      const echo = start(bu.echo, ["-l", `127.0.0.1:${echoPort}`], HARNESS_CPU);
      await waitForOutput(echo, /echo: listening/);
      load = (spec) => cLoad(bu as BenchUdp, spec, HARNESS_CPU);
    }
    const first = await hintStun(echoPort);
    const rows: Row[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      for (const workers of [1, 2]) {
        const relay = await benchRelay(["--cluster", "1", "--workers", String(workers)]);
        if (PIN) for (const [i, pid] of relay.pids.entries()) pinPid(pid, i % 2 === 0 ? 1 : 0);
        const spec = (o: Partial<LoadSpec>): LoadSpec => ({
          port: relay.port,
          clients: CLIENTS,
          size: SIZE,
          durationS: DURATION,
          warmupS: 0.5,
          firstPayload: first,
          ...o,
        });
        await load(spec({ window: WINDOW, durationS: 1, warmupS: 0 })); // JIT warm-up, flows open
        // Latency first: an overloaded relay's backlog must not spill into it.
        const lat = await load(spec({ rate: RATE }));
        const cpu0 = relay.cpu();
        const busy0 = [cpuBusySeconds(0), cpuBusySeconds(1)];
        const t0 = performance.now();
        const max = await load(spec({ window: WINDOW }));
        const wall = (performance.now() - t0) / 1000;
        const busy = [cpuBusySeconds(0) - busy0[0]!, cpuBusySeconds(1) - busy0[1]!];
        const cpuS = relay.cpu() - cpu0;
        // Capacity: up the ladder until more than 1 % is lost.
        let capacity = 0;
        for (let rate = STEP; rate <= 200_000; rate += STEP) {
          const r = await load(spec({ rate, durationS: Math.min(DURATION, 2) }));
          if (r.lostPct > 1) break;
          capacity = rate;
        }
        rows.push({
          workers,
          capacity,
          maxRtPerS: max.rxPps,
          cpuS,
          rtPerCpuS: (max.rxPps * DURATION) / cpuS,
          p50Us: lat.p50Us,
          p99Us: lat.p99Us,
          lossPct: lat.lostPct,
          cpu0Pct: (100 * busy[0]!) / wall,
          cpu1Pct: (100 * busy[1]!) / wall,
        });
        await relay.child.stop();
      }
    }
    report(rows, "missing" in bu ? "node-fallback" : "bench-udp");
  } finally {
    await stopEcho?.();
    await stopAll();
    if (!("missing" in bu)) rmSync(bu.dir, { recursive: true, force: true });
  }
}

function report(rows: Row[], mode: string) {
  const med = (w: number, k: keyof Row) => median(rows.filter((r) => r.workers === w).map((r) => r[k]));
  console.log(
    `\n${CLIENTS} flows, ${SIZE}-byte packets, ${DURATION}s per phase, median of ${REPS}; harness on CPU ${HARNESS_CPU}` +
      `${PIN ? ", worker 0 on CPU 1, worker 1 on CPU 0" : ", workers placed by the kernel"}${hasTaskset ? "" : " (no taskset: nothing pinned)"}\n`,
  );
  console.log(
    [
      "workers",
      "capacity rt/s",
      "closed rt/s",
      "worker CPU-s",
      "rt/CPU-s",
      "CPU0/CPU1 busy",
      `p50@${RATE / 1000}k us`,
      `p99@${RATE / 1000}k us`,
      "loss",
    ]
      .map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(13)))
      .join(" "),
  );
  for (const w of [1, 2])
    console.log(
      [
        String(w).padEnd(8),
        fmt(med(w, "capacity")).padStart(13),
        fmt(med(w, "maxRtPerS")).padStart(13),
        fmt(med(w, "cpuS"), 2).padStart(13),
        fmt(med(w, "rtPerCpuS")).padStart(13),
        `${fmt(med(w, "cpu0Pct"))}%/${fmt(med(w, "cpu1Pct"))}%`.padStart(13),
        fmt(med(w, "p50Us"), 1).padStart(13),
        fmt(med(w, "p99Us"), 1).padStart(13),
        `${fmt(med(w, "lossPct"), 3)}%`.padStart(13),
      ].join(" "),
    );
  const scaling = med(2, "capacity") / med(1, "capacity");
  const closedScaling = med(2, "maxRtPerS") / med(1, "maxRtPerS");
  const efficiency = med(2, "rtPerCpuS") / med(1, "rtPerCpuS");
  console.log(`\nscaling, capacity (<= 1 % loss) with 2 workers / with 1: ${scaling.toFixed(2)}x`);
  console.log(`scaling, closed-loop rt/s with 2 workers / with 1: ${closedScaling.toFixed(2)}x`);
  console.log(`efficiency, rt per CPU-second with 2 workers / with 1: ${efficiency.toFixed(2)}x`);
  console.log(
    JSON.stringify({
      bench: "relay-workers",
      mode,
      clients: CLIENTS,
      size: SIZE,
      reps: REPS,
      pinned: PIN,
      rows,
      scaling,
      closedScaling,
      efficiency,
    }),
  );
}

await main();
