/**
 * Relay benchmark: `node bench/relay.ts [--duration S] [--warmup S] [--clients N] [--size B] [--io auto|batch|dgram|both] [--baseline REF]`.
 *
 * Measures, in one run and side by side, with N simulated flows of B-byte
 * packets (one round trip = two relayed datagrams):
 *   direct     loadgen -> echo                          (the harness alone)
 *   reference  loadgen -> fwd (C) -> echo --encap       (bench-udp's C relay)
 *   relay      loadgen -> voice-edge relay -> echo      (this project, as `voice-edge relay`)
 * For each: max round trips/s (closed loop), forwarder CPU-seconds (from
 * /proc/<pid>/stat) and so round trips per CPU-second, loss at a fixed
 * 50,000 round trips/s, and round-trip p50/p99 at 25,000 round trips/s.
 * The load generator and echo run on CPU 0, the forwarder on CPU 1 (taskset).
 *
 * With --reps N every phase runs N times, interleaved across paths, and the
 * table shows medians (the machine is shared: single runs are noisy).
 *
 * The relay runs with its default I/O backend (--io auto: batched
 * recvmmsg/sendmmsg when the native addon is built, else node:dgram; the
 * table names the one it ran). --io batch|dgram forces one; --io both measures
 * the two side by side (two relay processes, the second one's row "relay-dgram").
 *
 * --baseline REF also measures the relay of another commit (git archive of REF
 * into a temporary directory, with this worktree's node_modules and addon
 * build), same backend, interleaved in the same run: row "relay (REF)", and
 * the ratio of this relay's round trips per CPU-second to it. With REF = the
 * commit before authenticated encapsulation (e.g. main before it was merged)
 * that ratio is the cost of the tokens (target >= 0.9x: at most 10 % fewer).
 *
 * Uses ../shared/bench-udp (or $VOICE_EDGE_BENCH_UDP) when present; without
 * it, falls back to a Node load generator and echo (worker threads), which
 * has no C reference and so gives no ratios.
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { type BenchUdp, buildBenchUdp, cLoad } from "./lib/bench-udp.ts";
import { LOAD_OPTIONS, type LoadResult, type LoadSpec } from "./lib/load.ts";
import { nodeEcho, nodeLoad } from "./lib/node-load.ts";
import {
  type Child,
  cpuProcessSeconds,
  cpuSeconds,
  freeUdpPort,
  hasTaskset,
  start,
  stopAll,
  waitForOutput,
} from "./lib/proc.ts";
import { BIN, CLUSTER, checkoutBaseline, ENCAP_KEYS, hintStun, KEYS, ROOT } from "./lib/relay-procs.ts";

const { values: argv } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    warmup: { type: "string", default: "0.5" },
    window: { type: "string", default: "128" },
    "loss-rate": { type: "string", default: "50000" },
    "latency-rate": { type: "string", default: "25000" },
    reps: { ...LOAD_OPTIONS.reps, default: "1" },
    io: { type: "string", default: "auto" },
    baseline: { type: "string" },
  },
});
const BASELINE = argv.baseline;
if (BASELINE !== undefined && !/^[\w./^~-]+$/.test(BASELINE))
  throw new Error(`--baseline ${BASELINE}: not a git ref`);
const IO = argv.io!;
if (!["auto", "batch", "dgram", "both"].includes(IO))
  throw new Error(`--io ${IO}: expected auto, batch, dgram or both`);
const DURATION = Number(argv.duration);
const WARMUP = Number(argv.warmup);
const CLIENTS = Number(argv.clients);
const SIZE = Number(argv.size);
const WINDOW = Number(argv.window);
const LOSS_RATE = Number(argv["loss-rate"]);
const LATENCY_RATE = Number(argv["latency-rate"]);
/** Each path is measured this many times, interleaved; the table shows medians. */
const REPS = Math.max(1, Number(argv.reps));

const HARNESS_CPU = 0;
const FORWARDER_CPU = 1;

type PathName = "direct" | "reference" | "relay" | "relay-dgram" | "relay-base";

interface PathResult {
  path: PathName;
  maxRtPerS: number;
  /** Round trips the forwarder handled during the max-rate run, and the CPU it used. */
  forwarded?: number;
  cpuS?: number;
  rtPerCpuS?: number;
  /** Round trips per CPU-second at the latency phase's fixed rate (a forwarder that is not saturated). */
  rtPerCpuSAtLatencyRate?: number;
  lossPctAtLossRate: number;
  p50UsAtLatencyRate: number;
  p99UsAtLatencyRate: number;
  /** Time other processes ran on the forwarder's CPU, as % of wall time (worst phase): interference. */
  otherCpuPct: number;
}

/** A forwarder under measurement: its pid, and the round trips it has handled so far. */
interface Forwarder {
  pid: number;
  /** Round trips delivered back to clients so far; `final` when it is about to be stopped. */
  count(final: boolean): Promise<number>;
}

async function main() {
  const bu = buildBenchUdp(ROOT);
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  try {
    if ("missing" in bu) {
      console.log(
        `NOTE: ${bu.missing}. Falling back to a Node load generator and echo (worker threads): ` +
          "no C reference, so no ratios; absolute numbers are bounded by the Node harness.",
      );
      await runNode();
    } else {
      await runC(bu);
    }
  } finally {
    await stopAll();
    if (!("missing" in bu)) rmSync(bu.dir, { recursive: true, force: true });
  }
}

async function runC(bu: BenchUdp) {
  const pEcho = await freeUdpPort();
  const pEchoEncap = await freeUdpPort();
  const pFwd = await freeUdpPort();
  const echo = start(bu.echo, ["-l", `127.0.0.1:${pEcho}`], HARNESS_CPU);
  const echoEncap = start(bu.echo, ["-l", `127.0.0.1:${pEchoEncap}`, "--encap"], HARNESS_CPU);
  await waitForOutput(echo, /echo: listening/);
  await waitForOutput(echoEncap, /echo: listening/);
  const relay = await startRelayProcess(IO === "both" ? "batch" : IO);
  const relayDgram = IO === "both" ? await startRelayProcess("dgram") : undefined;
  const baseline = BASELINE ? checkoutBaseline(BASELINE) : undefined;
  const relayBase = baseline
    ? await startRelayProcess(IO === "both" ? "batch" : IO, baseline.bin)
    : undefined;
  const firstPayload = await hintStun(pEcho);
  const load = (port: number, o: Partial<LoadSpec>, first = false) =>
    cLoad(bu, spec(port, o, first ? firstPayload : undefined), HARNESS_CPU);

  /** A fresh C forwarder: it prints its counters only when stopped, so each phase gets its own. */
  const fwd = async (): Promise<Forwarder> => {
    const c = start(
      bu.fwd,
      ["-l", `127.0.0.1:${pFwd}`, "-b", `127.0.0.1:${pEchoEncap}`, "-k", "1"],
      FORWARDER_CPU,
    );
    await waitForOutput(c, /fwd: public/);
    return {
      pid: c.pid,
      count: async (final) => (final ? Number(/b2c~(\d+)/.exec(await c.stop())?.[1] ?? Number.NaN) : 0),
    };
  };

  // JIT warm-up of the relay (a long-running relay is warm), not measured.
  await load(relay.port, { window: WINDOW, durationS: 1, warmupS: 0 }, true);
  if (relayDgram) await load(relayDgram.port, { window: WINDOW, durationS: 1, warmupS: 0 }, true);
  if (relayBase) await load(relayBase.port, { window: WINDOW, durationS: 1, warmupS: 0 }, true);

  const runs: PathResult[] = [];
  const paths: PathName[] = [
    "direct",
    "reference",
    "relay",
    ...(relayBase ? (["relay-base"] as const) : []),
    ...(relayDgram ? (["relay-dgram"] as const) : []),
  ];
  for (let rep = 0; rep < REPS; rep++) {
    // The two relays compared take turns going first: interference on a shared machine comes in waves.
    const order =
      rep % 2 && relayBase
        ? paths.map((p) => (p === "relay" ? "relay-base" : p === "relay-base" ? "relay" : p))
        : paths;
    for (const path of order) {
      const r = path === "relay-dgram" ? relayDgram! : path === "relay-base" ? relayBase! : relay;
      const port = path === "direct" ? pEcho : path === "reference" ? pFwd : r.port;
      const first = path.startsWith("relay");
      const f = async () =>
        path === "reference" ? await fwd() : path === "direct" ? undefined : r.forwarder;
      // Latency before loss: an overloaded forwarder's backlog must not spill into the latency phase.
      const max = await measured(await f(), () => load(port, { window: WINDOW }, first));
      const lat = await measured(await f(), () => load(port, { rate: LATENCY_RATE }, first));
      const loss = await measured(await f(), () => load(port, { rate: LOSS_RATE }, first));
      runs.push(row(path, max, loss, lat));
    }
  }
  const results = medians(runs);
  await report("bench-udp", results, await relay.drops(), runs, relay.io, await relayDgram?.drops());
  if (baseline) rmSync(baseline.dir, { recursive: true, force: true });
}

async function runNode() {
  const pEcho = await freeUdpPort();
  const stopEcho = await nodeEcho(pEcho);
  try {
    const relay = await startRelayProcess(IO === "both" ? "auto" : IO);
    const firstPayload = await hintStun(pEcho);
    const load = (port: number, o: Partial<LoadSpec>, first = false) =>
      nodeLoad(spec(port, o, first ? firstPayload : undefined));
    await load(relay.port, { window: WINDOW, durationS: 1, warmupS: 0 }, true);
    const runs: PathResult[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      for (const path of ["direct", "relay"] as const) {
        const port = path === "direct" ? pEcho : relay.port;
        const first = path === "relay";
        const f = path === "relay" ? relay.forwarder : undefined;
        const max = await measured(f, () => load(port, { window: WINDOW }, first));
        const lat = await measured(f, () => load(port, { rate: LATENCY_RATE }, first));
        const loss = await measured(f, () => load(port, { rate: LOSS_RATE }, first));
        runs.push(row(path, max, loss, lat));
      }
    }
    const results = medians(runs);
    await report("node-fallback", results, await relay.drops(), runs, relay.io);
  } finally {
    await stopEcho();
  }
}

function spec(port: number, o: Partial<LoadSpec>, firstPayload?: Uint8Array): LoadSpec {
  return {
    port,
    clients: CLIENTS,
    size: SIZE,
    durationS: DURATION,
    warmupS: WARMUP,
    firstPayload,
    ...o,
  };
}

interface Measured {
  result: LoadResult;
  cpuS?: number;
  forwarded?: number;
  otherCpuPct: number;
}

/**
 * Runs a load; reads the forwarder's CPU time and round trips across it, and
 * how busy other processes kept the forwarder's CPU.
 */
async function measured(f: Forwarder | undefined, run: () => Promise<LoadResult>): Promise<Measured> {
  const t0 = performance.now();
  const busy0 = cpuProcessSeconds(FORWARDER_CPU);
  const cpu0 = f ? cpuSeconds(f.pid) : 0;
  const n0 = f ? await f.count(false) : 0;
  const result = await run();
  const cpuS = f ? cpuSeconds(f.pid) - cpu0 : 0;
  const wallS = (performance.now() - t0) / 1000;
  const otherCpuPct = Math.max(0, (100 * (cpuProcessSeconds(FORWARDER_CPU) - busy0 - cpuS)) / wallS);
  if (!f) return { result, otherCpuPct };
  const forwarded = (await f.count(true)) - n0;
  return { result, cpuS, forwarded, otherCpuPct };
}

/** Per path, the median of each number over the repetitions. */
function medians(runs: PathResult[]): PathResult[] {
  const paths = [...new Set(runs.map((r) => r.path))];
  return paths.map((path) => {
    const mine = runs.filter((r) => r.path === path);
    const med = (k: keyof PathResult) => {
      const xs = mine
        .map((r) => r[k])
        .filter((x): x is number => typeof x === "number")
        .sort((a, b) => a - b);
      if (xs.length === 0) return undefined;
      const m = xs.length >> 1;
      return xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
    };
    return {
      path,
      maxRtPerS: med("maxRtPerS")!,
      forwarded: med("forwarded"),
      cpuS: med("cpuS"),
      rtPerCpuS: med("rtPerCpuS"),
      rtPerCpuSAtLatencyRate: med("rtPerCpuSAtLatencyRate"),
      lossPctAtLossRate: med("lossPctAtLossRate")!,
      p50UsAtLatencyRate: med("p50UsAtLatencyRate")!,
      p99UsAtLatencyRate: med("p99UsAtLatencyRate")!,
      otherCpuPct: med("otherCpuPct")!,
    };
  });
}

function row(path: PathName, max: Measured, loss: Measured, lat: Measured): PathResult {
  return {
    path,
    maxRtPerS: max.result.rxPps,
    forwarded: max.forwarded,
    cpuS: max.cpuS,
    rtPerCpuS: max.cpuS && max.forwarded ? max.forwarded / max.cpuS : undefined,
    rtPerCpuSAtLatencyRate: lat.cpuS && lat.forwarded ? lat.forwarded / lat.cpuS : undefined,
    lossPctAtLossRate: loss.result.lostPct,
    p50UsAtLatencyRate: lat.result.p50Us,
    p99UsAtLatencyRate: lat.result.p99Us,
    otherCpuPct: Math.max(max.otherCpuPct, loss.otherCpuPct, lat.otherCpuPct),
  };
}

/** `voice-edge relay` of this tree (or of a baseline checkout: `bin`, which may predate --encap-keys). */
async function startRelayProcess(io: string, bin = BIN) {
  const port = await freeUdpPort();
  const adminPort = await freeUdpPort(); // a free UDP port number is very likely free for TCP too
  const c: Child = start(
    process.execPath,
    [
      bin,
      "relay",
      ...(bin === BIN ? ["--encap-keys", ENCAP_KEYS] : []),
      "--listen",
      `127.0.0.1:${port}`,
      "--internal",
      "127.0.0.1:0",
      "--cluster",
      String(CLUSTER),
      "--keys",
      KEYS,
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--idle-timeout",
      "600",
      // One process on one core: the forwarder whose CPU /proc/<pid>/stat measures.
      "--workers",
      "1",
      "--io",
      io,
    ],
    FORWARDER_CPU,
  );
  const line = await waitForOutput(c, /^.*relay listening.*$/m);
  const backend = /"io":"(\w+)"/.exec(line[0])?.[1] ?? "?";
  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const counter = (text: string, name: string, label: string) =>
    Number(new RegExp(`^${name}\\{${label}\\} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  const forwarder: Forwarder = {
    pid: c.pid,
    count: async () => counter(await metrics(), "voice_edge_relay_packets_total", 'path="to_client"'),
  };
  return {
    port,
    io: backend,
    forwarder,
    /** Drops by reason over the whole run (expected: none). */
    drops: async () => {
      const text = await metrics();
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^voice_edge_relay_drops_total\{reason="([^"]+)"\} (\d+)/gm))
        if (Number(m[2]) > 0) out[m[1]!] = Number(m[2]);
      return out;
    },
  };
}

async function report(
  mode: string,
  results: PathResult[],
  relayDrops: Record<string, number>,
  runs: PathResult[],
  io: string,
  relayDgramDrops?: Record<string, number>,
) {
  const by = Object.fromEntries(results.map((r) => [r.path, r])) as Partial<Record<PathName, PathResult>>;
  const direct = by.direct!;
  const fmt = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(d));
  const label: Record<PathName, string> = {
    direct: "direct: loadgen -> echo",
    reference: "reference: loadgen -> fwd (C) -> echo",
    relay: `relay (${io}): loadgen -> voice-edge relay -> echo`,
    "relay-dgram": "relay (dgram): loadgen -> voice-edge relay -> echo",
    "relay-base": `relay (${BASELINE}): loadgen -> voice-edge relay -> echo`,
  };
  const head = [
    "path".padEnd(44),
    "max rt/s".padStart(9),
    "CPU-s".padStart(6),
    "rt/CPU-s".padStart(9),
    `rt/CPU-s@${LATENCY_RATE / 1000}k`.padStart(13),
    `loss@${LOSS_RATE / 1000}k`.padStart(9),
    `p50@${LATENCY_RATE / 1000}k`.padStart(9),
    `p99@${LATENCY_RATE / 1000}k`.padStart(9),
    "added p50/p99 (us)".padStart(19),
    `other@CPU${FORWARDER_CPU}`.padStart(11),
  ];
  console.log(
    `\n${CLIENTS} flows, ${SIZE}-byte packets, ${DURATION}s per phase (+${WARMUP}s warm-up), window ${WINDOW}` +
      `${REPS > 1 ? `, median of ${REPS} runs` : ""}; ` +
      (mode === "bench-udp"
        ? `harness on CPU ${HARNESS_CPU}, `
        : "harness (Node workers in this process) not pinned, ") +
      `forwarder on CPU ${FORWARDER_CPU}${hasTaskset ? "" : " (no taskset: not pinned)"}\n`,
  );
  console.log(head.join(" "));
  for (const r of results) {
    const added =
      r.path === "direct"
        ? "-"
        : `${fmt(r.p50UsAtLatencyRate - direct.p50UsAtLatencyRate)} / ${fmt(r.p99UsAtLatencyRate - direct.p99UsAtLatencyRate)}`;
    console.log(
      [
        label[r.path].padEnd(44),
        fmt(r.maxRtPerS).padStart(9),
        fmt(r.cpuS, 2).padStart(6),
        fmt(r.rtPerCpuS).padStart(9),
        fmt(r.rtPerCpuSAtLatencyRate).padStart(13),
        `${fmt(r.lossPctAtLossRate, 3)}%`.padStart(9),
        fmt(r.p50UsAtLatencyRate, 1).padStart(9),
        fmt(r.p99UsAtLatencyRate, 1).padStart(9),
        added.padStart(19),
        `${fmt(r.otherCpuPct)}%`.padStart(11),
      ].join(" "),
    );
  }
  const ref = by.reference;
  const relayPaths = (["relay", "relay-dgram"] as const).filter((p) => by[p] !== undefined);
  const ratiosOf = (relay: PathResult) =>
    ref
      ? {
          throughputPerCpuVsReference: relay.rtPerCpuS! / ref.rtPerCpuS!,
          throughputPerCpuAtLatencyRateVsReference:
            relay.rtPerCpuSAtLatencyRate! / ref.rtPerCpuSAtLatencyRate!,
          addedP99VsReference:
            (relay.p99UsAtLatencyRate - direct.p99UsAtLatencyRate) /
            Math.max(1, ref.p99UsAtLatencyRate - direct.p99UsAtLatencyRate),
        }
      : undefined;
  const ratios = ratiosOf(by.relay!);
  const ratiosDgram = by["relay-dgram"] ? ratiosOf(by["relay-dgram"]) : undefined;
  for (const path of relayPaths) {
    const relay = by[path]!;
    const r = path === "relay" ? ratios : ratiosDgram;
    if (!r) continue;
    const name = label[path].split(":")[0];
    const ok = (b: boolean) => (b ? "ok" : "MISSED");
    console.log("");
    console.log(
      `${name} / reference, round trips per CPU-second at max rate: ${r.throughputPerCpuVsReference.toFixed(2)}x  (target >= 0.5x: ${ok(r.throughputPerCpuVsReference >= 0.5)})`,
    );
    console.log(
      `${name} / reference, round trips per CPU-second at ${LATENCY_RATE} round trips/s: ${r.throughputPerCpuAtLatencyRateVsReference.toFixed(2)}x  (not a target: neither is saturated)`,
    );
    console.log(
      `${name} loss at ${LOSS_RATE} round trips/s: ${relay.lossPctAtLossRate.toFixed(3)}%  (target 0: ${ok(relay.lossPctAtLossRate === 0)})`,
    );
    console.log(
      `${name} / reference, added p99 at ${LATENCY_RATE} round trips/s: ${r.addedP99VsReference.toFixed(2)}x  (target <= 3x: ${ok(r.addedP99VsReference <= 3)})`,
    );
  }
  const base = by["relay-base"];
  const authCost = base
    ? {
        throughputPerCpuVsBaseline: by.relay!.rtPerCpuS! / base.rtPerCpuS!,
        throughputPerCpuAtLatencyRateVsBaseline:
          by.relay!.rtPerCpuSAtLatencyRate! / base.rtPerCpuSAtLatencyRate!,
        perRep: runs
          .filter((r) => r.path === "relay")
          .map((r, i) => r.rtPerCpuS! / runs.filter((b) => b.path === "relay-base")[i]!.rtPerCpuS!),
      }
    : undefined;
  if (authCost) {
    const x = authCost.throughputPerCpuVsBaseline;
    console.log("");
    console.log(
      `relay / relay (${BASELINE}), round trips per CPU-second at max rate: ${x.toFixed(3)}x  (target >= 0.9x: ${x >= 0.9 ? "ok" : "MISSED"}); per repetition ${authCost.perRep.map((r) => r.toFixed(3)).join(", ")}`,
    );
    console.log(
      `relay / relay (${BASELINE}), round trips per CPU-second at ${LATENCY_RATE} round trips/s: ${authCost.throughputPerCpuAtLatencyRateVsBaseline.toFixed(3)}x`,
    );
  }
  const noisy = results.filter((r) => r.otherCpuPct > 10);
  if (noisy.length)
    console.log(
      `WARNING: other processes kept CPU ${FORWARDER_CPU} busy ${noisy.map((r) => `${fmt(r.otherCpuPct)}% (${r.path})`).join(", ")} ` +
        "in some phase: the forwarder shared its core, so its latency and loss are pessimistic. Rerun on a quiet machine.",
    );
  console.log(`relay drops during the run: ${JSON.stringify(relayDrops)}`);
  if (relayDgramDrops) console.log(`relay (dgram) drops during the run: ${JSON.stringify(relayDgramDrops)}`);
  console.log(
    JSON.stringify({
      bench: "relay",
      mode,
      clients: CLIENTS,
      size: SIZE,
      durationS: DURATION,
      reps: REPS,
      pinned: hasTaskset,
      results,
      io,
      ratios,
      ratiosDgram,
      baseline: BASELINE,
      authCost,
      relayDrops,
      relayDgramDrops,
      runs: REPS > 1 ? runs : undefined,
    }),
  );
}

await main();
