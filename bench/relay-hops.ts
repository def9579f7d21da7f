/**
 * Added latency per relay hop: `node bench/relay-hops.ts [--duration S] [--reps N] [--rates 2000,10000]`.
 *
 * Round-trip latency of 1,000 simulated flows (200-byte packets, open loop
 * at each rate) over three paths, interleaved, medians of --reps runs:
 *
 *   direct   loadgen -> echo
 *   1 hop    loadgen -> cluster relay -> echo                      (a relay facing clients)
 *   2 hops   loadgen -> ingress -> cluster relay (--ingresses) -> echo   (Global Relay)
 *
 * A round trip crosses each relay twice, so the added latency of a hop
 * (both directions) is "1 hop - direct" for the cluster relay and
 * "2 hops - 1 hop" for the ingress. Load generator and echo (bench-udp, C)
 * on CPU 0, the relays (one worker each) on CPU 1.
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildBenchUdp, cLoad } from "./lib/bench-udp.ts";
import { LOAD_OPTIONS, type LoadSpec } from "./lib/load.ts";
import { freeUdpPort, hasTaskset, start, stopAll, waitForOutput } from "./lib/proc.ts";
import { type BenchRelay, benchRelay, CLUSTER, fmt, hintStun, median, ROOT } from "./lib/relay-procs.ts";

const { values: argv } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    rates: { type: "string", default: "2000,10000" },
  },
});
const DURATION = Number(argv.duration);
const REPS = Math.max(1, Number(argv.reps));
const CLIENTS = Number(argv.clients);
const SIZE = Number(argv.size);
const RATES = argv.rates.split(",").map(Number);
const HARNESS_CPU = 0;
const RELAY_CPU = 1;

type Path = "direct" | "1 hop" | "2 hops";
const PATHS: Path[] = ["direct", "1 hop", "2 hops"];

async function main() {
  const bu = buildBenchUdp(ROOT);
  if ("missing" in bu) {
    console.log(
      `${bu.missing}: this benchmark needs bench-udp (C load generator and echo) for microsecond latencies.`,
    );
    process.exit(2);
  }
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
  const relays: BenchRelay[] = [];
  try {
    const echoPort = await freeUdpPort();
    const echo = start(bu.echo, ["-l", `127.0.0.1:${echoPort}`], HARNESS_CPU);
    await waitForOutput(echo, /echo: listening/);
    const first = await hintStun(echoPort);
    const oneHop = await benchRelay(["--workers", "1", "--cluster", String(CLUSTER)], RELAY_CPU);
    const behind = await benchRelay(
      ["--workers", "1", "--cluster", String(CLUSTER), "--ingresses", "127.0.0.1"],
      RELAY_CPU,
    );
    const ingress = await benchRelay(
      ["--workers", "1", "--tier", "ingress", "--clusters", `${CLUSTER}=127.0.0.1:${behind.port}`],
      RELAY_CPU,
    );
    relays.push(oneHop, behind, ingress);
    const portOf: Record<Path, number> = { direct: echoPort, "1 hop": oneHop.port, "2 hops": ingress.port };
    const load = (path: Path, o: Partial<LoadSpec>) =>
      cLoad(
        bu,
        {
          port: portOf[path],
          clients: CLIENTS,
          size: SIZE,
          durationS: DURATION,
          warmupS: 0.5,
          firstPayload: path === "direct" ? undefined : first,
          ...o,
        },
        HARNESS_CPU,
      );
    // Warm-up: flows open, the JIT warms.
    for (const path of ["1 hop", "2 hops"] as const)
      await load(path, { rate: 20_000, durationS: 1, warmupS: 0 });

    const samples = new Map<string, { p50: number[]; p99: number[]; loss: number[] }>();
    for (let rep = 0; rep < REPS; rep++)
      for (const rate of RATES)
        for (const path of PATHS) {
          const r = await load(path, { rate });
          const k = `${path}@${rate}`;
          const s = samples.get(k) ?? { p50: [], p99: [], loss: [] };
          s.p50.push(r.p50Us);
          s.p99.push(r.p99Us);
          s.loss.push(r.lostPct);
          samples.set(k, s);
        }
    const drops = {
      "1 hop": await oneHop.counter("voice_edge_relay_packets_total", 'path="to_client"'),
      ingress: await ingress.counter("voice_edge_relay_packets_total", 'path="to_client"'),
    };

    console.log(
      `\n${CLIENTS} flows, ${SIZE}-byte packets, ${DURATION}s per run, median of ${REPS}; harness on CPU ${HARNESS_CPU}, ` +
        `relays on CPU ${RELAY_CPU}${hasTaskset ? "" : " (no taskset: not pinned)"}; round-trip microseconds\n`,
    );
    const rows: Record<string, unknown>[] = [];
    console.log(
      ["rate rt/s", "path", "p50", "p99", "loss", "added p50", "added p99"]
        .map((h, i) => (i < 2 ? h.padEnd(10) : h.padStart(10)))
        .join(" "),
    );
    for (const rate of RATES) {
      const m = (path: Path, q: "p50" | "p99" | "loss") => median(samples.get(`${path}@${rate}`)![q]);
      for (const path of PATHS) {
        const added = (q: "p50" | "p99") => (path === "direct" ? Number.NaN : m(path, q) - m("direct", q));
        console.log(
          [
            String(rate).padEnd(10),
            path.padEnd(10),
            fmt(m(path, "p50"), 1).padStart(10),
            fmt(m(path, "p99"), 1).padStart(10),
            `${fmt(m(path, "loss"), 3)}%`.padStart(10),
            fmt(added("p50"), 1).padStart(10),
            fmt(added("p99"), 1).padStart(10),
          ].join(" "),
        );
        rows.push({ rate, path, p50Us: m(path, "p50"), p99Us: m(path, "p99"), lossPct: m(path, "loss") });
      }
      const hop = (q: "p50" | "p99") => ({
        cluster: m("1 hop", q) - m("direct", q),
        ingress: m("2 hops", q) - m("1 hop", q),
      });
      console.log(
        `  per hop at ${rate} rt/s (round trip, both directions): cluster relay +${fmt(hop("p50").cluster, 1)} us p50 / ` +
          `+${fmt(hop("p99").cluster, 1)} us p99; ingress +${fmt(hop("p50").ingress, 1)} us p50 / +${fmt(hop("p99").ingress, 1)} us p99`,
      );
    }
    console.log(
      JSON.stringify({
        bench: "relay-hops",
        clients: CLIENTS,
        size: SIZE,
        reps: REPS,
        rows,
        delivered: drops,
      }),
    );
  } finally {
    await Promise.all(relays.map((r) => r.child.stop()));
    await stopAll();
    rmSync(bu.dir, { recursive: true, force: true });
  }
}

await main();
