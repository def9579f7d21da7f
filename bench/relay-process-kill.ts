/**
 * Relay process kill in the stack's shape (issue 16 item 9):
 * `node bench/relay-process-kill.ts [--calls 10] [--reps 3] [--processes 2,1] [--lost-after 10]`.
 *
 * `voice-edge stack` (one region, echo backend, flow records in Redis at
 * REDIS_URL) with `relayProcesses` worker processes per tier on one port
 * (SO_REUSEPORT, under the stack's supervisor, as a relay pod runs them), and
 * N live werift calls streaming audio both ways at 50 packets/s. Per
 * repetition (a fresh stack, so every kill is a first crash with the 100 ms
 * restart delay), three events, each measured on every call:
 *
 *   idle (no kill)     the reference: the same window with nothing done (the harness's own stalls)
 *   ingress kill -9    SIGKILL to the ingress worker holding the most flows
 *   cluster kill -9    likewise for the cluster relay
 *
 * The window runs from 100 ms before the kill until 1 s after the killed
 * worker's replacement listens (its return moves clients back: the kernel
 * spreads them again), so both moves count. Per call: the longest silence
 * between two echoed packets in the window (gap: wall clock, so it includes
 * the stalls of this one process that runs the calls, the edge and the
 * transceiver host), the longest run of echoed packets missing (hole, ms of
 * audio: what the relays lost; the harness's stalls delay packets but do not
 * lose them), packets lost, and whether the call is lost (no echo in
 * --lost-after s after the kill). With
 * `--processes 1` the same with one process per tier: the one relay
 * restarted, the baseline shape.
 */
import { randomBytes } from "node:crypto";
import type { Supervisor } from "../media/relay/supervisor.ts";
import type { RunningStack } from "../media/stack/main.ts";
import { loopbackRegion, startLoopbackStack } from "../test/support/loopback-region.ts";
import { dropKeys, REDIS_URL, waitForKeys } from "../test/support/redis.ts";
import {
  type AudioCall,
  audioHoles,
  longestSilence,
  openCall,
  StreamedCalls,
  waitUntil,
} from "../test/support/relay-harness.ts";
import { LO } from "../test/support/udp.ts";
import { benchArgs } from "./lib/args.ts";
import { percentile } from "./lib/report.ts";

const argv = benchArgs({ calls: 10, reps: 3, processes: "2,1", "lost-after": 10 });

// The table is the output: the stack's logs (a worker's death is a warning) would bury it.
process.env.VOICE_EDGE_LOG_LEVEL ??= "error";
const N = argv.calls;
const REPS = Math.max(1, argv.reps);
const SHAPES = argv.processes.split(",").map(Number);
const LOST_AFTER_MS = argv["lost-after"] * 1000;
const CLUSTER = 51;
/** The idle window: about as long as a kill's (restart delay, worker start, 1 s after). */
const IDLE_MS = 2500;

interface Sample {
  processes: number;
  scenario: string;
  gaps: number[];
  holes: number[];
  /** The same before the replacement listened ([0]) and after ([1]). */
  byPhase: { gaps: [number[], number[]]; holes: [number[], number[]] };
  lost: number[];
  callsLost: number;
  /** Flows the killed worker held (its snapshot just before). */
  killedFlows?: number;
  /** Kill -> the replacement listens, ms. */
  restartMs?: number;
}

async function main() {
  const samples: Sample[] = [];
  for (const processes of SHAPES)
    for (let rep = 0; rep < REPS; rep++) samples.push(...(await oneStack(processes)));
  report(samples);
}

/** A fresh stack with `processes` per tier, N calls, and the three events on them. */
async function oneStack(processes: number): Promise<Sample[]> {
  const prefix = `ve-bench:kill:${randomBytes(4).toString("hex")}:`;
  const streamed = new StreamedCalls();
  const calls = streamed.calls;
  let stack: RunningStack | undefined;
  const out: Sample[] = [];
  try {
    stack = await startLoopbackStack([await loopbackRegion("aa", CLUSTER)], {
      backend: "echo",
      redis: REDIS_URL,
      flowPrefix: prefix,
      relayProcesses: processes,
    });
    const tx = stack.transceivers[0]!.url;
    const at = `${LO}:${stack.topology.regions[0]!.ingressPort}`;
    for (let i = 0; i < N; i++) calls.push(await openCall(tx, at, stack.token));
    streamed.stream();
    await waitUntil(() => calls.every((c) => c.arrivals.length > 10), 10_000, "audio on every call");
    // Every flow recorded at both tiers, so a worker that takes over finds it.
    await waitForKeys(REDIS_URL, `${prefix}cluster-${CLUSTER}:`, N, 5000);
    await waitForKeys(REDIS_URL, `${prefix}ingress-aa:`, N, 5000);

    const missing = () => calls.map((c) => c.sent - c.arrivals.length);
    const measure = async (scenario: string, host: Supervisor | undefined) => {
      await new Promise((r) => setTimeout(r, 500));
      const lost0 = missing();
      const t0 = Date.now();
      let killedFlows: number | undefined;
      let restartMs: number | undefined;
      /** When the replacement listened (the kernel starts moving clients back). */
      let split: number;
      let end: number;
      if (host) {
        const { workers } = await host.view();
        const busiest = workers.reduce((a, b) => (b.flows > a.flows ? b : a));
        const slot = host.pids().indexOf(busiest.pid);
        killedFlows = busiest.flows;
        process.kill(busiest.pid, "SIGKILL");
        const listening = await replacementListening(host, slot, busiest.pid);
        restartMs = listening - t0;
        split = listening;
        end = listening + 1000;
      } else {
        end = t0 + IDLE_MS;
        split = end - 1000;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
      // A call is lost when it has no echo after the window by LOST_AFTER_MS after the kill.
      const heard = (c: AudioCall) => c.arrivals.some((t) => t > end - 200);
      await waitUntil(
        () => calls.every(heard) || Date.now() > t0 + LOST_AFTER_MS,
        LOST_AFTER_MS + 1000,
        "audio or the lost deadline",
      );
      const callsLost = calls.filter((c) => !heard(c)).length;
      const to = Math.max(end, Math.min(Date.now(), t0 + LOST_AFTER_MS));
      out.push({
        processes,
        scenario,
        gaps: longestSilence(calls, t0 - 100, to),
        holes: audioHoles(calls, t0 - 100, to),
        byPhase: {
          gaps: [longestSilence(calls, t0 - 100, split), longestSilence(calls, split, to)],
          holes: [audioHoles(calls, t0 - 100, split), audioHoles(calls, split, to)],
        },
        lost: missing().map((m, i) => m - lost0[i]!),
        callsLost,
        killedFlows,
        restartMs,
      });
    };

    await measure("idle (no kill)", undefined);
    await measure("ingress kill -9", stack.ingressHosts[0]);
    await measure("cluster kill -9", stack.clusterHosts[0]);
  } finally {
    await streamed.close();
    await stack?.close();
    await dropKeys(REDIS_URL, prefix);
  }
  return out;
}

/**
 * When the worker in `slot` after `killed` listens (ms): it answers snapshot requests from then on,
 * so one goes out every 20 ms (those it got before are never answered and time out).
 */
function replacementListening(host: Supervisor, slot: number, killed: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + LOST_AFTER_MS;
    const t = setInterval(() => {
      if (Date.now() > deadline) {
        clearInterval(t);
        reject(new Error(`no replacement for worker ${slot} in ${LOST_AFTER_MS} ms`));
      }
      const pid = host.pids()[slot];
      if (!pid || pid === killed) return;
      void host.view().then((v) => {
        if (!v.workers.some((w) => w.pid === pid)) return;
        clearInterval(t);
        resolve(Date.now());
      });
    }, 20);
  });
}

function report(samples: Sample[]) {
  console.log(
    `\n${N} werift calls (audio both ways, 50 packets/s each), echo backend, Redis flow records; ` +
      `${REPS} repetition(s), a fresh stack each; per call: the longest silence around the event (gap, ms), ` +
      "the longest run of echoed packets missing (hole, ms of audio), both also before the replacement " +
      "listens (failover) and after (moving back), packets lost (both directions); a call is lost without " +
      `echo ${LOST_AFTER_MS / 1000} s after the kill\n`,
  );
  const cols = [
    ["processes/tier", 14],
    ["scenario", 16],
    ["gap p50", 8],
    ["gap p99", 8],
    ["gap max", 8],
    ["vs idle p99", 11],
    ["hole p50/p99/max", 16],
    ["p99 gap/hole: failover", 23],
    ["moving back", 11],
    ["lost p50", 9],
    ["lost max", 9],
    ["calls lost", 10],
    ["killed flows", 12],
    ["listening after ms", 18],
  ] as const;
  console.log(cols.map(([h, w], i) => (i < 2 ? h.padEnd(w) : h.padStart(w))).join(" "));
  const results: Record<string, unknown>[] = [];
  for (const processes of SHAPES) {
    const mine = samples.filter((s) => s.processes === processes);
    const stat = (scenario: string) => {
      const of = mine.filter((s) => s.scenario === scenario);
      const gaps = of.flatMap((s) => s.gaps).sort((a, b) => a - b);
      const holes = of.flatMap((s) => s.holes).sort((a, b) => a - b);
      const phase = (k: "gaps" | "holes", i: 0 | 1) =>
        percentile(
          of.flatMap((s) => s.byPhase[k][i]).sort((a, b) => a - b),
          99,
        );
      const lost = of.flatMap((s) => s.lost).sort((a, b) => a - b);
      return {
        processes,
        scenario,
        gapP50: percentile(gaps, 50),
        gapP99: percentile(gaps, 99),
        gapMax: gaps.at(-1)!,
        holeP50: percentile(holes, 50),
        holeP99: percentile(holes, 99),
        holeMax: holes.at(-1)!,
        /** p99 before the replacement listened / after. */
        gapP99ByPhase: [phase("gaps", 0), phase("gaps", 1)],
        holeP99ByPhase: [phase("holes", 0), phase("holes", 1)],
        lostP50: percentile(lost, 50),
        lostMax: lost.at(-1)!,
        callsLost: of.reduce((n, s) => n + s.callsLost, 0),
        calls: of.reduce((n, s) => n + s.gaps.length, 0),
        killedFlows: of.flatMap((s) => (s.killedFlows === undefined ? [] : [s.killedFlows])),
        restartMs: of.flatMap((s) => (s.restartMs === undefined ? [] : [s.restartMs])),
      };
    };
    const idle = stat("idle (no kill)");
    for (const name of ["idle (no kill)", "ingress kill -9", "cluster kill -9"]) {
      const r = name === idle.scenario ? idle : stat(name);
      const vsIdle = r.gapP99 / idle.gapP99;
      results.push({ ...r, gapP99VsIdle: vsIdle });
      const cells = [
        String(processes),
        name,
        String(r.gapP50),
        String(r.gapP99),
        String(r.gapMax),
        `${vsIdle.toFixed(2)}x`,
        `${r.holeP50}/${r.holeP99}/${r.holeMax}`,
        `${r.gapP99ByPhase[0]}/${r.holeP99ByPhase[0]}`,
        `${r.gapP99ByPhase[1]}/${r.holeP99ByPhase[1]}`,
        String(r.lostP50),
        String(r.lostMax),
        `${r.callsLost}/${r.calls}`,
        r.killedFlows.join(",") || "-",
        r.restartMs.join(",") || "-",
      ];
      console.log(cells.map((c, i) => (i < 2 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join(" "));
    }
  }
  console.log(
    JSON.stringify({
      bench: "relay-process-kill",
      calls: N,
      reps: REPS,
      lostAfterS: LOST_AFTER_MS / 1000,
      results,
    }),
  );
}

await main();
